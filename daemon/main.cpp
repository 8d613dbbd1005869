// mnigsd: the Mesh Network Internet Gateway System daemon.
#include "daemon/daemon.hpp"

#include <signal.h>

#include <cstring>
#include <iostream>

namespace {

void usage(std::ostream& out) {
  out << "usage: mnigsd [-f PATH] [-v] [--check-config | --dump-config]\n"
         "  -f, --config PATH  config file (default " << mnigs::default_config_path << ")\n"
         "  -v, --verbose      log debug messages\n"
         "      --check-config validate the config file (plugins' sections too) and exit:\n"
         "                     0 valid, 1 not (the reasons on stderr)\n"
         "      --dump-config  print every config key with its effective value and exit\n"
         "  -V, --version      print the version and exit\n"
         "  -h, --help         this help\n";
}

}  // namespace

int main(int argc, char** argv) {
  mnigs::DaemonOptions options;
  bool dump = false;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-f" || arg == "--config") {
      if (i + 1 >= argc) {
        std::cerr << "mnigsd: " << arg << " needs a path\n";
        return 2;
      }
      options.config_path = argv[++i];
      options.config_path_given = true;
    } else if (arg == "-v" || arg == "--verbose") {
      options.verbose = true;
    } else if (arg == "--dump-config") {
      dump = true;
    } else if (arg == "--check-config") {
      check = true;
    } else if (arg == "-V" || arg == "--version") {
      std::cout << "mnigsd " << MNIGS_VERSION << "\n";
      return 0;
    } else if (arg == "-h" || arg == "--help") {
      usage(std::cout);
      return 0;
    } else {
      std::cerr << "mnigsd: unknown option " << arg << "\n";
      usage(std::cerr);
      return 2;
    }
  }
  ::signal(SIGPIPE, SIG_IGN);

  mnigs::StderrLogger log("mnigsd");
  try {
    if (check) {
      // The file must exist: a check of built-in defaults would prove nothing.
      auto startup = mnigs::load_startup_config(options.config_path, true, log);
      for (const auto& w : startup.warnings) log.warn(w.message);
      std::cout << startup.path << ": valid\n";
      return 0;
    }
    if (dump) {
      auto startup =
          mnigs::load_startup_config(options.config_path, options.config_path_given, log);
      for (const auto& w : startup.warnings) log.warn(w.message);
      std::cout << mnigs::dump_config(startup.schema, startup.values, startup.path);
      return 0;
    }
    mnigs::Daemon daemon(options);
    daemon.start();
    return daemon.run();
  } catch (const std::exception& e) {
    log.error(e.what());
    log.error(check ? "the config is not valid" : "mnigsd did not start");
    return 1;
  }
}
