#include "daemon/stdin_source.h"

namespace og::daemon {
namespace {

class StdinSource final : public FileSource {
 public:
  StdinSource(FileSourceConfig config, EventSink& sink, LogSink log, int fd)
      : FileSource(std::move(config), sink, std::move(log), fd, /*owns_fd=*/false, /*allow_array=*/false) {}
};

}  // namespace

boost::system::result<std::unique_ptr<FileSource>, std::string> make_stdin_source(FileSourceConfig config,
                                                                                  EventSink& sink, LogSink log,
                                                                                  int fd) {
  if (!config.factories.parser) return std::string("stdin source: no parser");
  auto source = std::make_unique<StdinSource>(std::move(config), sink, std::move(log), fd);
  return std::unique_ptr<FileSource>(std::move(source));
}

}  // namespace og::daemon
