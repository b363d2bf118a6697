"""Fill-in legal documents: templates from content, filling, DOCX and PDF output, a short-lived download store, counts."""
