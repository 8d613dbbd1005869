#include "rpc/registry.hpp"

#include <regex>
#include <stdexcept>

namespace mnigs {

void MethodRegistry::add(const std::string& name, Access access, MethodHandler handler) {
  static const std::regex valid("[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*)?");
  if (!std::regex_match(name, valid))
    throw std::logic_error("RPC method name \"" + name + "\" is not valid");
  std::lock_guard lock(mutex_);
  if (!methods_.emplace(name, Entry{access, std::move(handler)}).second)
    throw std::logic_error("RPC method " + name + " is registered twice");
}

std::optional<MethodRegistry::Entry> MethodRegistry::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = methods_.find(name);
  if (it == methods_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, Access>> MethodRegistry::list() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, Access>> out;
  for (const auto& [name, e] : methods_) out.emplace_back(name, e.access);
  return out;
}

}  // namespace mnigs
