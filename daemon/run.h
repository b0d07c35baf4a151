#pragma once

namespace og::daemon {

// The whole program: parses the command line and runs the chosen command. Returns the exit code.
int run(int argc, char** argv);

}  // namespace og::daemon
