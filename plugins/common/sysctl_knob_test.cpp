// The recorded sysctl knobs: record first, then act, and a reset finds what
// an earlier run turned on.
#include "sysctl_knob.hpp"

#include <plugin_fakes.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace mnigs::netcmd {
namespace {

using testing::FakeContext;

constexpr const char* kKnob = "net.ipv4.ip_forward";

struct Turned {
  std::string error;
  bool turned_on = false;
};

CommandOutcome outcome(int exit_code, std::string out = "", std::string err = "") {
  CommandOutcome o;
  o.exit_code = exit_code;
  o.out = std::move(out);
  o.err = std::move(err);
  return o;
}

// `sysctl -n` answers `read`, `sysctl -w` answers `write`.
class KnobContext : public FakeContext {
 public:
  KnobContext() : FakeContext("tunnel") {}
  void run(std::vector<std::string> argv, std::string, std::chrono::milliseconds,
           std::function<void(CommandOutcome)> done) override {
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    commands.push_back(line);
    CommandOutcome o = argv.size() > 1 && argv[1] == "-n" ? read : write;
    if (done) boost::asio::post(io(), [done, o] { done(o); });
  }
  KeyValueStore& store() override { return store_override ? *store_override : store_; }

  CommandOutcome read = outcome(0, "0\n");
  CommandOutcome write = outcome(0);
  KeyValueStore* store_override = nullptr;
};

class SysctlKnobTest : public ::testing::Test {
 protected:
  // turn_on_knob as the only step of an operation; the outcome once settled.
  std::optional<Turned> turn_on() {
    std::optional<Turned> result;
    queue.enqueue(
        [&](CommandQueue::Finished finished) {
          turn_on_knob(queue, kKnob, [&result, finished](std::string error, bool on) {
            result = Turned{std::move(error), on};
            finished();
          });
        },
        [](const std::string&) {});
    ctx.poll();
    return result;
  }
  std::size_t writes(const std::string& value) const {
    std::size_t n = 0;
    for (const auto& c : ctx.commands) n += c == "sysctl -w " + std::string(kKnob) + "=" + value;
    return n;
  }

  KnobContext ctx;
  CommandQueue queue{ctx, std::chrono::seconds(10)};
};

TEST_F(SysctlKnobTest, AKnobThatWasOffIsRecordedAndTurnedOn) {
  auto r = turn_on();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, "");
  EXPECT_TRUE(r->turned_on);
  EXPECT_EQ(ctx.commands,
            (std::vector<std::string>{"sysctl -n net.ipv4.ip_forward",
                                      "sysctl -w net.ipv4.ip_forward=1"}));
  EXPECT_EQ(ctx.store_.rows.count("sysctl/net.ipv4.ip_forward"), 1u);
  EXPECT_TRUE(ctx.log_.saw("turned on net.ipv4.ip_forward"));
}

TEST_F(SysctlKnobTest, AKnobThatWasOnIsNeitherRecordedNorWritten) {
  ctx.read = outcome(0, "1\n");
  auto r = turn_on();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, "");
  EXPECT_FALSE(r->turned_on);
  EXPECT_EQ(writes("1"), 0u);
  EXPECT_TRUE(ctx.store_.rows.empty());
}

// Without its record a knob turned on would stay on after a crash: the
// next reset would not know it had been off.
TEST_F(SysctlKnobTest, WithoutARecordTheKnobIsLeftAlone) {
  ctx.store_.fail_puts = true;
  auto r = turn_on();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error,
            "cannot record the state of net.ipv4.ip_forward before changing it; it is left alone");
  EXPECT_FALSE(r->turned_on);
  EXPECT_EQ(writes("1"), 0u);
}

TEST_F(SysctlKnobTest, AFailedWriteErasesTheRecord) {
  ctx.write = outcome(255, "", "sysctl: permission denied on key \"net.ipv4.ip_forward\"\n");
  auto r = turn_on();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error,
            "`sysctl -w net.ipv4.ip_forward=1` failed: sysctl: permission denied on key "
            "\"net.ipv4.ip_forward\"");
  EXPECT_FALSE(r->turned_on);
  EXPECT_TRUE(ctx.store_.rows.empty());
}

TEST_F(SysctlKnobTest, AReadThatFailsChangesNothing) {
  ctx.read = outcome(255, "",
                     "sysctl: cannot stat /proc/sys/net/ipv4/ip_forward: No such file or "
                     "directory\n");
  auto r = turn_on();
  ASSERT_TRUE(r);
  EXPECT_NE(r->error.find("`sysctl -n net.ipv4.ip_forward` failed"), std::string::npos)
      << r->error;
  EXPECT_FALSE(r->turned_on);
  EXPECT_EQ(writes("1"), 0u);
  EXPECT_TRUE(ctx.store_.rows.empty());
}

// What a run recorded before it died is what the next reset turns off.
TEST_F(SysctlKnobTest, AResetFindsTheKnobsAnEarlierRunRecorded) {
  ctx.store_.rows["sysctl/net.ipv6.conf.all.forwarding"] = "0";
  ctx.store_.rows["other"] = "kept";
  std::vector<std::string> found;
  queue.enqueue(
      [&](CommandQueue::Finished finished) {
        recorded_knobs(queue, [&, finished](std::vector<std::string> knobs) {
          found = std::move(knobs);
          finished();
        });
      },
      [](const std::string&) {});
  ctx.poll();
  EXPECT_EQ(found, (std::vector<std::string>{"net.ipv6.conf.all.forwarding"}));
  const Command off = write_knob("net.ipv6.conf.all.forwarding", false);
  EXPECT_EQ(to_string(off), "sysctl -w net.ipv6.conf.all.forwarding=0");
  EXPECT_TRUE(off.removal);
  forget_knobs(ctx.store_);
  EXPECT_EQ(ctx.store_.rows.count("sysctl/net.ipv6.conf.all.forwarding"), 0u);
  EXPECT_EQ(ctx.store_.rows.count("other"), 1u);
}

// A store that answers after the plugin stopped must not turn anything on.
TEST_F(SysctlKnobTest, NothingIsTurnedOnOnceTheQueueStopped) {
  class LateStore : public testing::FakeStore {
   public:
    void put(std::string key, std::string value, std::function<void(bool)> done) override {
      rows[key] = std::move(value);
      late = std::move(done);
    }
    std::function<void(bool)> late;
  } store;
  ctx.store_override = &store;
  bool called = false;
  queue.enqueue(
      [&](CommandQueue::Finished) {
        turn_on_knob(queue, kKnob, [&called](std::string, bool) { called = true; });
      },
      [](const std::string&) {});
  ctx.poll();
  ASSERT_TRUE(store.late) << "the record was never asked for";
  queue.stop({});
  store.late(true);
  ctx.poll();
  EXPECT_FALSE(called);
  EXPECT_EQ(writes("1"), 0u);
}

}  // namespace
}  // namespace mnigs::netcmd
