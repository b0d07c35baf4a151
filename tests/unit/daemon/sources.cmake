# daemon sources tests
