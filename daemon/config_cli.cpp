#include "daemon/config_cli.h"

#include <string>

#include "daemon/config.h"

namespace og::daemon {

namespace {
constexpr std::string_view kUsage =
    "usage: oktaguard config check FILE [--format text|json] [--no-file-checks]\n"
    "  --no-file-checks  do not require secret files and credentials to exist (checking on another machine)\n";
}

int config_command(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] != "check") {
    err << kUsage;
    return 2;
  }
  std::string file;
  bool json = false;
  LoadOptions options;
  for (std::size_t i = 1; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--format" && i + 1 < args.size()) {
      std::string_view f = args[++i];
      if (f != "text" && f != "json") {
        err << "oktaguard config check: unknown format '" << f << "'\n" << kUsage;
        return 2;
      }
      json = f == "json";
    } else if (a == "--no-file-checks") {
      options.check_files = false;
    } else if (!a.starts_with("-") && file.empty()) {
      file = std::string(a);
    } else {
      err << "oktaguard config check: unexpected argument '" << a << "'\n" << kUsage;
      return 2;
    }
  }
  if (file.empty()) {
    err << kUsage;
    return 2;
  }
  LoadResult r = load_config_file(file, options);
  if (json) {
    out << correlator::render_json(r.diagnostics) << '\n';
  } else {
    // Diagnostics go to stderr like a compiler's; the verdict to stdout for scripts.
    err << correlator::render_text(r.diagnostics);
    if (r.config)
      out << file << ": ok\n";
    else
      out << file << ": " << r.diagnostics.error_count() << " error(s)\n";
  }
  return r.config ? 0 : 1;
}

}  // namespace og::daemon
