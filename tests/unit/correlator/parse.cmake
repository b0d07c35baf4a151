# Parser tests.
