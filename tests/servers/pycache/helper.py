DESCRIPTION = "Greets the user politely."
