// Running an io_context on a thread of its own so that no handler can end the
// process: one that throws is reported and the loop goes on. Every thread
// mnigsd or a plugin starts to run handlers uses it (or a catch of its own
// at the top, as the command runner and the store's worker do).
#pragma once

#include <boost/asio/io_context.hpp>

#include <exception>
#include <functional>
#include <string>

namespace mnigs {

// Runs `io` until it stops or runs out of work. A handler that throws is
// passed to `report` (its what(), or "an unknown exception") on this thread,
// and the loop carries on with the next handler. `report` must not throw.
inline void run_guarded(boost::asio::io_context& io,
                        const std::function<void(const std::string&)>& report) {
  // Bounded by the io_context: each pass runs at least the handler that threw.
  while (true) {
    try {
      io.run();
      return;
    } catch (const std::exception& e) {
      report(e.what());
    } catch (...) {
      report("an unknown exception");
    }
  }
}

}  // namespace mnigs
