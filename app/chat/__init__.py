"""Official Account chat accounts and their binding to people (used by bots/ and the notify
channels). bots/ holds the webhook and the conversation; the state it needs lives here."""
