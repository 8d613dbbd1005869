// Bounded polling for system tests.
#pragma once

#include <chrono>
#include <thread>

namespace mnigs::test {

// Polls `done` up to `tries` times, `interval` apart; true once it holds.
template <class Predicate>
bool wait_until(Predicate done, int tries, std::chrono::milliseconds interval) {
  for (int i = 0; i < tries; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(interval);
  }
  return done();
}

}  // namespace mnigs::test
