"""Custom Rasa graph components: normalise, classify, extract towns, catch danger."""
