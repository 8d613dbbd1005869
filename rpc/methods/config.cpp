// getConfig and setConfig: the daemon's settings over RPC. setConfig goes the
// same way as `mnigs-cli --set` on a stopped daemon (config_edit), then
// applies the live keys as a new snapshot.
#include "config/convert.hpp"
#include "rpc/methods/methods.hpp"

namespace mnigs {
namespace {

Json::Value describe_key(const KeySpec& spec, const Json::Value& value) {
  Json::Value k(Json::objectValue);
  k["value"] = value;
  k["default"] = spec.default_value;
  k["type"] = describe_type(spec);
  // For forms (the web UI's settings): the type by name and its bounds.
  static const char* const kinds[] = {"boolean", "integer",   "string",  "string_list",
                                      "port",    "port_list", "address", "cidr_list"};
  static_assert(static_cast<int>(ValueType::cidr_list) == 7, "a kind for every ValueType");
  k["kind"] = kinds[static_cast<int>(spec.type)];
  if (spec.type == ValueType::integer) {
    k["min"] = static_cast<Json::Int64>(spec.min);
    k["max"] = static_cast<Json::Int64>(spec.max);
  }
  if (!spec.choices.empty()) {
    Json::Value choices(Json::arrayValue);
    for (const auto& c : spec.choices) choices.append(c);
    k["choices"] = choices;
  }
  k["help"] = spec.help;
  k["live"] = spec.live;
  k["fileOnly"] = spec.file_only;
  return k;
}

void get_config(CoreServices& core, const Json::Value& params, Responder reply) {
  if (!params.isNull() && !params.isObject())
    return reply.error(rpc_error::invalid_params,
                       "getConfig params must be an object: {\"key\": \"section.key\"}, "
                       "{\"section\": \"name\"} or {\"describe\": true}");
  auto config = core.config.holder.get();
  const Schema& schema = core.config.schema;
  bool describe = params.isObject() && params["describe"].asBool();
  Json::Value r(Json::objectValue);
  r["file"] = config->path();
  {
    std::lock_guard lock(core.config.write_mutex);
    Json::Value pending(Json::arrayValue);
    for (const auto& k : core.config.restart_pending) pending.append(k);
    r["restartRequired"] = pending;
  }
  if (params.isObject() && params.isMember("key")) {
    std::string name = params["key"].asString();
    auto dot = name.find('.');
    const KeySpec* spec =
        dot == std::string::npos ? nullptr : schema.find(name.substr(0, dot), name.substr(dot + 1));
    if (!spec) return reply.error(rpc_error::invalid_params, "unknown key " + name);
    const Json::Value& v = config->get(name.substr(0, dot), name.substr(dot + 1));
    r["key"] = name;
    r["value"] = v;
    if (describe) r["describe"] = describe_key(*spec, v);
    return reply.result(r);
  }
  std::string only = params.isObject() ? params["section"].asString() : "";
  if (!only.empty() && !schema.section(only))
    return reply.error(rpc_error::invalid_params, "unknown section " + only);
  Json::Value values(Json::objectValue);
  for (const auto& s : schema.sections()) {
    if (!only.empty() && s.name != only) continue;
    Json::Value sec(Json::objectValue);
    for (const auto& k : s.keys) {
      const Json::Value& v = config->get(s.name, k.name);
      sec[k.name] = describe ? describe_key(k, v) : v;
    }
    values[s.name] = sec;
  }
  r["values"] = values;
  reply.result(r);
}

}  // namespace

void set_config(CoreServices& core, const Json::Value& params, Responder reply) {
  // {"section.key": value, ...} or {"key": "section.key", "value": value}
  std::vector<std::pair<std::string, Json::Value>> raw;
  if (params.isObject() && params.size() == 2 && params.isMember("key") &&
      params.isMember("value") && params["key"].isString()) {
    raw.emplace_back(params["key"].asString(), params["value"]);
  } else if (params.isObject() && !params.empty()) {
    for (const auto& name : params.getMemberNames()) raw.emplace_back(name, params[name]);
  } else {
    return reply.error(rpc_error::invalid_params,
                       "setConfig params must be an object such as "
                       "{\"gateway.enabled\": true} or {\"key\": \"gateway.enabled\", "
                       "\"value\": true}");
  }
  std::vector<ConfigChange> changes;
  std::vector<std::string> errors = resolve_changes(core.config.schema, raw, changes);
  for (const auto& c : changes)
    if (const KeySpec* spec = core.config.schema.find(c.section, c.key); spec && spec->file_only)
      errors.push_back(c.dotted() +
                       " names a command or a path, so it can only be changed in the config "
                       "file (then restart mnigsd)");
  if (!errors.empty()) {
    Json::Value data(Json::arrayValue);
    std::string message = "nothing changed: ";
    for (std::size_t i = 0; i < errors.size(); ++i) {
      data.append(errors[i]);
      message += (i ? "; " : "") + errors[i];
    }
    return reply.error(rpc_error::invalid_params, message, data);
  }

  std::lock_guard lock(core.config.write_mutex);
  auto current = core.config.holder.get();
  if (current->path().empty())
    return reply.error(rpc_error::failed,
                       "nothing changed: mnigsd runs on built-in defaults without a config file");
  try {
    write_changes(current->path(), core.config.schema, changes);
  } catch (const std::exception& e) {
    return reply.error(rpc_error::failed, e.what());
  }
  Json::Value values = current->values();
  Json::Value applied(Json::arrayValue), restart(Json::arrayValue), typed(Json::objectValue);
  std::vector<ConfigChange> live;
  for (const auto& c : changes) {
    typed[c.dotted()] = c.value;
    if (c.live) {
      values[c.section][c.key] = c.value;
      core.config.restart_pending.erase(c.dotted());
      applied.append(c.dotted());
      live.push_back(c);
    } else if (current->get(c.section, c.key) != c.value) {
      core.config.restart_pending.insert(c.dotted());
      restart.append(c.dotted());
    } else {
      core.config.restart_pending.erase(c.dotted());  // set back to the running value
      applied.append(c.dotted());
    }
  }
  core.config.holder.set(std::make_shared<const Config>(current->path(), values));
  if (!live.empty() && core.config.on_live_change) core.config.on_live_change(live);

  Json::Value r(Json::objectValue);
  r["file"] = current->path();
  r["values"] = typed;
  r["applied"] = applied;
  r["restartRequired"] = restart;
  reply.result(r);
}

void reply_reload(CoreServices& core, const ReloadOutcome& outcome, Responder reply) {
  auto list = [](const std::vector<std::string>& items) {
    Json::Value a(Json::arrayValue);
    for (const auto& i : items) a.append(i);
    return a;
  };
  if (!outcome.errors.empty()) {
    std::string message = "nothing changed: ";
    for (std::size_t i = 0; i < outcome.errors.size(); ++i)
      message += (i ? "; " : "") + outcome.errors[i];
    return reply.error(rpc_error::invalid_params, message, list(outcome.errors));
  }
  Json::Value r(Json::objectValue);
  r["file"] = core.config.holder.get()->path();
  r["applied"] = list(outcome.applied);
  r["restartRequired"] = list(outcome.restart_required);
  reply.result(r);
}

void register_config_methods(MethodRegistry& registry, CoreServices& core) {
  registry.add("getConfig", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 get_config(core, params, std::move(reply));
               });
  registry.add("setConfig", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 set_config(core, params, std::move(reply));
               });
  // The config file read again, as at SIGHUP (mnigs-cli --reload, systemd's
  // ExecReload): answers once it is done.
  registry.add("reloadConfig", Access::admin,
               [&core](const Json::Value& params, const CallInfo&, Responder reply) {
                 if (!no_params(params))
                   return reply.error(rpc_error::invalid_params, "reloadConfig takes no params");
                 reply_reload(core, reload_config(core.config), std::move(reply));
               });
}

}  // namespace mnigs
