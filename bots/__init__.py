"""The Official Account chatbot: the webhook (webhook.py), the conversation (conversation.py,
intents.py, replies.py) and the sandbox chat page (sandbox.py). It calls app services only —
never the database directly; the state it keeps lives in app/chat/."""
