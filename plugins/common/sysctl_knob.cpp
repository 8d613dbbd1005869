#include "sysctl_knob.hpp"

#include <utility>

namespace mnigs::netcmd {

namespace {

constexpr const char* kRecords = "sysctl/";

std::string record_key(const std::string& knob) { return kRecords + knob; }

}  // namespace

Command read_knob(const std::string& knob) {
  Command c;
  c.argv = {"sysctl", "-n", knob};
  return c;
}

Command write_knob(const std::string& knob, bool on) {
  Command c;
  c.argv = {"sysctl", "-w", knob + (on ? "=1" : "=0")};
  c.removal = !on;
  return c;
}

void turn_on_knob(CommandQueue& queue, const std::string& knob,
                  std::function<void(std::string, bool)> done) {
  const Command read = read_knob(knob);
  queue.run(read, [&queue, knob, read, done](const CommandOutcome& outcome) {
    if (!succeeded(outcome)) return done(failure_sentence(read, outcome), false);
    if (outcome.out.find('1') != std::string::npos) return done("", false);
    PluginContext& context = queue.context();
    context.store().put(
        record_key(knob), "0", queue.guard<bool>([&queue, &context, knob, done](bool recorded) {
          if (!recorded)
            return done("cannot record the state of " + knob +
                            " before changing it; it is left alone",
                        false);
          const Command write = write_knob(knob, true);
          queue.run(write, [&context, knob, write, done](const CommandOutcome& outcome) {
            if (!succeeded(outcome)) {
              context.store().erase(record_key(knob));
              return done(failure_sentence(write, outcome), false);
            }
            context.log().info("turned on ", knob, "; it goes back off on reset");
            done("", true);
          });
        }));
  });
}

void turn_on_knobs(CommandQueue& queue, std::vector<std::string> knobs,
                   std::function<void(const std::string&)> turned_on,
                   std::function<void(std::string)> done) {
  if (knobs.empty()) return done("");
  std::string first = knobs.front();
  knobs.erase(knobs.begin());
  turn_on_knob(queue, first,
               [&queue, first, rest = std::move(knobs), turned_on, done](std::string error,
                                                                        bool on) mutable {
                 if (on) turned_on(first);
                 if (!error.empty()) return done(error);
                 turn_on_knobs(queue, std::move(rest), std::move(turned_on), std::move(done));
               });
}

void recorded_knobs(CommandQueue& queue, std::function<void(std::vector<std::string>)> ready) {
  queue.context().store().list(
      kRecords, queue.guard<std::vector<KeyValueStore::Row>>(
                    [ready](std::vector<KeyValueStore::Row> rows) {
                      std::vector<std::string> knobs;
                      for (const auto& row : rows)
                        knobs.push_back(row.first.substr(std::string(kRecords).size()));
                      ready(std::move(knobs));
                    }));
}

void forget_knobs(KeyValueStore& store) {
  store.list(kRecords, [&store](std::vector<KeyValueStore::Row> rows) {
    for (const auto& row : rows) store.erase(row.first);
  });
}

}  // namespace mnigs::netcmd
