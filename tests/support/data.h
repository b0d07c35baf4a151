#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace og::test {

// ../shared/data, as configured (OG_SHARED_DATA_DIR).
std::filesystem::path shared_data_dir();

// The lines of a text file, without their newlines; fails the test when the file cannot be read.
std::vector<std::string> read_lines(const std::filesystem::path& path);
std::string read_file(const std::filesystem::path& path);

}  // namespace og::test
