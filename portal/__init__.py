"""The shopper side: captive-portal pages for each gateway protocol, and the login flow."""
