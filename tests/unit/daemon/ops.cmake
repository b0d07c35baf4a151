# daemon ops tests
