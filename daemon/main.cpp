#include "daemon/run.h"

int main(int argc, char** argv) {
  return og::daemon::run(argc, argv);
}
