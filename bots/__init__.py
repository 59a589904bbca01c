"""The Official Account chatbot (webhook, intents, replies). It calls app services only —
never the database directly. Built in the chatbot issue; nothing here yet."""
