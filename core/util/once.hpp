// once(f): a callable that forwards to `f` the first time it is called and
// ignores later calls; copies share that state. For completion handlers that
// a faulty plugin might call twice.
#pragma once

#include <atomic>
#include <memory>
#include <utility>

namespace mnigs {

template <class F>
auto once(F f) {
  auto called = std::make_shared<std::atomic<bool>>(false);
  auto fn = std::make_shared<F>(std::move(f));
  return [called, fn](auto&&... args) {
    if (!called->exchange(true)) (*fn)(std::forward<decltype(args)>(args)...);
  };
}

}  // namespace mnigs
