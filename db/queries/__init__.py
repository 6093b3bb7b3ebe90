"""Every SQL statement of the project. Each function takes the account id it is scoped to."""
