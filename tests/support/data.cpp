#include "tests/support/data.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace og::test {

std::filesystem::path shared_data_dir() {
  return std::filesystem::path(OG_SHARED_DATA_DIR);
}

std::vector<std::string> read_lines(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) ADD_FAILURE() << "cannot read " << path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(std::move(line));
  return lines;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) ADD_FAILURE() << "cannot read " << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace og::test
