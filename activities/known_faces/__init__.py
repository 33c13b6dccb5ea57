"""The known-faces engine: face templates enrolled and looked up across accounts."""
