# Okta client tests against the emulator over real sockets.
