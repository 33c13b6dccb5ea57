"""What tests share: accounts (start, finish, audit, refusals), signing, polling, draws, registry rows."""
