#pragma once

// The correlator's state on disk: one file holding every shard's snapshot blob, replaced atomically
// (write a temporary file, fsync it, rename it over the old one, fsync the directory), so a crash at
// any point leaves either the previous snapshot or the new one, never a torn file.
//
// Consistency with the input needs no offsets here: a blob carries the shard's released watermark,
// and after a restore the engine drops redelivered events older than it as late, while events newer
// than it were not yet applied when the snapshot was taken. Decisions that fire again are deduplicated
// by the response engine's idempotency keys.

#include <boost/system/result.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace og::daemon {

// Writes the blobs to `path`. The error names the failing step and the OS error.
boost::system::result<void, std::string> save_state_snapshot(const std::filesystem::path& path,
                                                             const std::vector<std::string>& blobs);

// Reads a file written by save_state_snapshot. A missing file is an empty result; a truncated or
// foreign file is an error.
boost::system::result<std::vector<std::string>, std::string> load_state_snapshot(const std::filesystem::path& path);

}  // namespace og::daemon
