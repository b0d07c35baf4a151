#pragma once

#include <boost/system/result.hpp>

#include <memory>
#include <string>

#include "daemon/file_source.h"

namespace og::daemon {

// NDJSON from stdin (or any file descriptor, for tests): a FileSource without JSON-array
// detection, since a pipe cannot be read twice. binding.topic is ignored.
boost::system::result<std::unique_ptr<FileSource>, std::string> make_stdin_source(FileSourceConfig config,
                                                                                  EventSink& sink, LogSink log,
                                                                                  int fd = 0);

}  // namespace og::daemon
