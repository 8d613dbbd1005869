// What the benchmarks share: timing, medians and percentiles, a process's
// CPU time, a scratch directory, and for the babel-mesh ones grid
// topologies and node names. Header only; each benchmark includes it.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "harness/reaper.hpp"
#include "harness/topology.hpp"

namespace mnigs::test::bench {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Median of `v` (0 when empty).
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// The p-quantile of `v` (p in 0..1), the nearest rank: the smallest value
// with at least p of `v` at or below it (0 when empty).
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(i, v.size() - 1)];
}

// CPU seconds (user + system, with reaped children) a process has used so
// far; 0 once it is gone.
inline double process_cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  const auto paren = line.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(line.substr(paren + 2));
  // After the command name: state is field 3; utime..cstime are 14..17.
  std::vector<std::string> f;
  for (std::string s; fields >> s && f.size() < 15;) f.push_back(s);
  if (f.size() < 15) return 0;
  double ticks = 0;
  for (int i = 11; i <= 14; ++i) ticks += std::stod(f[i]);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// rows x cols with rows the largest divisor of n not above sqrt(n):
// 10 -> 2x5, 12 -> 3x4, 20 -> 4x5, 30 -> 5x6, 40 -> 5x8.
inline std::pair<int, int> grid_shape(int n) {
  int rows = 1;
  for (int r = 1; r * r <= n; ++r)
    if (n % r == 0) rows = r;
  return {rows, n / rows};
}

// 1-based, "n01".."n99".
inline std::string node_name(int index) {
  return (index < 10 ? "n0" : "n") + std::to_string(index);
}

// n nodes in a grid_shape(n) grid, row by row, each linked by a veth pair
// to its right and lower neighbours. Node i is babel node number i.
inline Topology grid(int n) {
  const auto [rows, cols] = grid_shape(n);
  Topology t;
  for (int i = 1; i <= n; ++i) t.node(node_name(i));
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const int i = r * cols + c + 1;
      if (c + 1 < cols) t.link(node_name(i), node_name(i + 1));
      if (r + 1 < rows) t.link(node_name(i), node_name(i + cols));
    }
  return t;
}

// A scratch directory /tmp/mnigs-<name>-XXXXXX (under /tmp/mnigs- so that
// the reaper removes it if the benchmark dies), removed by the destructor.
class Scratch {
 public:
  explicit Scratch(const std::string& name) {
    std::string pattern = "/tmp/mnigs-" + name + "-XXXXXX";
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp " + pattern + " failed");
    path_ = pattern;
    Reaper::instance().watch_dir(path_);
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    Reaper::instance().forget_dir(path_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace mnigs::test::bench
