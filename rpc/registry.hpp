// The JSON-RPC method table: name -> access class and handler. Core modules
// and plugins add methods at start-up; the server looks them up per call.
// Thread-safe.
#pragma once

#include <mnigs/rpc_api.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace mnigs {

class MethodRegistry {
 public:
  struct Entry {
    Access access;
    MethodHandler handler;
  };
  // Throws std::logic_error if `name` is taken or not a valid method name.
  void add(const std::string& name, Access access, MethodHandler handler);
  std::optional<Entry> find(const std::string& name) const;
  // Sorted names, with their access class.
  std::vector<std::pair<std::string, Access>> list() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Entry> methods_;
};

}  // namespace mnigs
