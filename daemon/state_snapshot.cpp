#include "daemon/state_snapshot.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>

namespace og::daemon {
namespace {

// "OGSNAP1\n", then per blob its decimal length, '\n', the bytes; then "END\n". The trailer tells a
// complete file from one cut short by a full disk.
constexpr std::string_view kMagic = "OGSNAP1\n";
constexpr std::string_view kTrailer = "END\n";

std::string os_error(std::string_view step, const std::filesystem::path& path) {
  return fmt::format("{} {}: {}", step, path.string(), std::strerror(errno));
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

boost::system::result<void, std::string> save_state_snapshot(const std::filesystem::path& path,
                                                             const std::vector<std::string>& blobs) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return os_error("creating", tmp);
  bool ok = write_all(fd, kMagic);
  for (const std::string& blob : blobs) {
    if (!ok) break;
    ok = write_all(fd, fmt::format("{}\n", blob.size())) && write_all(fd, blob);
  }
  ok = ok && write_all(fd, kTrailer);
  if (!ok) {
    std::string error = os_error("writing", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return error;
  }
  if (::fsync(fd) != 0) {
    std::string error = os_error("syncing", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return error;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string error = os_error("renaming over", path);
    ::unlink(tmp.c_str());
    return error;
  }
  // The rename is durable only once the directory entry is.
  std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

boost::system::result<std::vector<std::string>, std::string> load_state_snapshot(const std::filesystem::path& path) {
  std::vector<std::string> blobs;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path)) return blobs;
    return os_error("opening", path);
  }
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string_view rest(data);
  if (!rest.starts_with(kMagic)) return fmt::format("{}: not an oktaguard state snapshot", path.string());
  rest.remove_prefix(kMagic.size());
  while (!rest.empty()) {
    if (rest == kTrailer) return blobs;
    auto newline = rest.find('\n');
    if (newline == std::string_view::npos || newline == 0 || newline > 20)
      return fmt::format("{}: truncated after {} shard snapshot(s)", path.string(), blobs.size());
    std::size_t size = 0;
    for (char c : rest.substr(0, newline)) {
      if (c < '0' || c > '9')
        return fmt::format("{}: corrupt length after {} shard snapshot(s)", path.string(), blobs.size());
      size = size * 10 + static_cast<std::size_t>(c - '0');
    }
    rest.remove_prefix(newline + 1);
    if (rest.size() < size) return fmt::format("{}: truncated in shard snapshot {}", path.string(), blobs.size() + 1);
    blobs.emplace_back(rest.substr(0, size));
    rest.remove_prefix(size);
  }
  return fmt::format("{}: truncated (no end marker) after {} shard snapshot(s)", path.string(), blobs.size());
}

}  // namespace og::daemon
