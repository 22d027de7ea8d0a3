"""OpenPGP (and S/MIME reading) with the user's own GnuPG: UI-free.

`engine` runs gpg (through python-gnupg) with a timeout and turns its status lines into typed
results; `reading` finds the signed and encrypted parts of a message and says what they hold;
`writing` builds RFC 3156 PGP/MIME messages to send.
"""
