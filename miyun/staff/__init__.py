"""Staff accounts, sessions and the staff audit log (`store`), dashboard statistics from Rasa's
tracker store (`insights`) and the `staff` command line (`cli`)."""
