# daemon response tests
