// The web UI's password hash and its logins: right and wrong passwords, the
// admin token, sessions ending (idle, age, password change), the source and
// CSRF bindings, and the limits on guessing; on a fake clock.
#include "rpc/web_auth.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <future>

#include "auth/password.hpp"
#include "config/schema.hpp"
#include "test_util.hpp"

namespace mnigs {
namespace {

using std::chrono::seconds;
using std::chrono::steady_clock;

TEST(Password, HashesVerifyAndDifferBySalt) {
  const std::string a = hash_password("correct horse");
  const std::string b = hash_password("correct horse");
  EXPECT_NE(a, b);                         // a new salt each time
  EXPECT_TRUE(a.starts_with("$y$")) << a;  // glibc's libxcrypt has yescrypt
  EXPECT_EQ(verify_password("correct horse", a), true);
  EXPECT_EQ(verify_password("correct horse", b), true);
  EXPECT_EQ(verify_password("correct horsf", a), false);
  EXPECT_EQ(verify_password("", a), false);
  EXPECT_EQ(a.find("correct"), std::string::npos);
}

TEST(Password, Sha512SettingWorksWhereYescryptIsMissing) {
  const std::string setting = detail::sha512_setting(5000);
  ASSERT_EQ(setting.size(), std::string("$6$rounds=5000$").size() + 17) << setting;
  EXPECT_NE(setting, detail::sha512_setting(5000));
  const std::string hash = detail::crypt_with("s3cret pass", setting);
  ASSERT_TRUE(hash.starts_with("$6$rounds=5000$")) << hash;
  EXPECT_EQ(verify_password("s3cret pass", hash), true);
  EXPECT_EQ(verify_password("s3cret pas", hash), false);
}

TEST(Password, MalformedHashesNeverMatch) {
  for (const char* hash : {"", "x", "*0", "$1", "plain text password", "$y$", "$6$rounds=5000$"})
    EXPECT_NE(verify_password("plain text password", hash), true) << hash;
  // A method this C library does not know: it cannot tell, which is not "no".
  EXPECT_EQ(verify_password("x", "$99$abcdefghijklmnopqrstuvwxyz"), std::nullopt);
}

TEST(Password, ProblemsAreNamed) {
  EXPECT_EQ(password_problem("12345678"), "");
  EXPECT_NE(password_problem("1234567").find("at least 8"), std::string::npos);
  EXPECT_NE(password_problem(std::string(257, 'a')).find("at most 256"), std::string::npos);
  EXPECT_NE(password_problem("abcd\nefgh").find("control"), std::string::npos);
  EXPECT_NE(password_problem("abcd\tefgh").find("control"), std::string::npos);
  EXPECT_EQ(password_problem("pässwörd ok"), "");  // UTF-8 is fine
}

TEST(Password, FileIsPrivateAndEmptyRemovesIt) {
  test::TempDir dir;
  const std::string path = password_path(dir.path());
  EXPECT_EQ(path, dir.path() + "/webui.password");
  EXPECT_FALSE(read_password_hash(path));
  const std::string hash = hash_password("a good password");
  write_password_hash(path, hash);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_password_hash(path).value_or(""), hash);
  write_password_hash(path, "");
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(read_password_hash(path));
  write_password_hash(path, "");  // removing nothing is fine
}

TEST(Password, BadFilesAreErrorsNotPasswords) {
  test::TempDir dir;
  const std::string path = dir.file("webui.password");
  {
    std::ofstream(path) << "hunter2\n";
    EXPECT_THROW(read_password_hash(path), std::runtime_error);
    std::ofstream(path) << std::string(4096, '$');
    EXPECT_THROW(read_password_hash(path), std::runtime_error);
    std::ofstream(path) << "\n";
    EXPECT_FALSE(read_password_hash(path));
  }
  EXPECT_THROW(write_password_hash(path, "not a hash"), std::invalid_argument);
}

class WebAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Schema schema;
    declare_core_keys(schema);
    Json::Value values = defaults(schema);
    values["daemon"]["webuiLoginIdle"] = 600;
    values["daemon"]["webuiLoginMax"] = 3600;
    config_ = std::make_unique<ConfigHolder>(std::make_shared<const Config>("", values));
    auth_ = std::make_unique<WebAuth>(
        *config_, password_path(dir_.path()),
        [](std::string_view t) { return t == std::string(64, 't'); }, log_,
        [this] { return now_; });
  }

  void set_password(const std::string& p) {
    write_password_hash(password_path(dir_.path()), hash_password(p));
  }

  WebAuth::Outcome login(const std::string& source, const std::string& secret,
                         WebAuth::Via via = WebAuth::Via::password) {
    std::promise<WebAuth::Outcome> p;
    auto f = p.get_future();
    auth_->login(source, via, secret, [&p](WebAuth::Outcome o) { p.set_value(std::move(o)); });
    return f.get();
  }

  test::TempDir dir_;
  test::RecordingLogger log_;
  steady_clock::time_point now_ = steady_clock::time_point() + std::chrono::hours(1000);
  std::unique_ptr<ConfigHolder> config_;
  std::unique_ptr<WebAuth> auth_;
};

TEST_F(WebAuthTest, RightPasswordOpensASessionWithCsrf) {
  set_password("the right one");
  EXPECT_TRUE(auth_->password_set());
  auto out = login("192.0.2.7", "the right one");
  ASSERT_EQ(out.status, 200) << out.error;
  EXPECT_EQ(out.id.size(), 64u);
  EXPECT_EQ(out.csrf.size(), 64u);
  EXPECT_NE(out.id, out.csrf);
  EXPECT_EQ(out.max_age, seconds(3600));
  EXPECT_EQ(auth_->sessions(), 1u);

  auto c = auth_->check(out.id, out.csrf, "192.0.2.7");
  EXPECT_EQ(c.state, WebAuth::State::valid);
  EXPECT_EQ(c.expires_in, seconds(600));
  // The cookie alone is not enough for a call that needs the CSRF token.
  EXPECT_EQ(auth_->check(out.id, "", "192.0.2.7").state, WebAuth::State::csrf);
  EXPECT_EQ(auth_->check(out.id, out.id, "192.0.2.7").state, WebAuth::State::csrf);
  EXPECT_EQ(auth_->check(out.id, "", "192.0.2.7", false).state, WebAuth::State::valid);
  // Bound to the address that logged in.
  EXPECT_EQ(auth_->check(out.id, out.csrf, "192.0.2.8").state, WebAuth::State::expired);
  EXPECT_EQ(auth_->check(out.id, out.csrf, "192.0.2.7").state, WebAuth::State::valid);
  EXPECT_EQ(auth_->check("", "", "192.0.2.7").state, WebAuth::State::none);
  EXPECT_EQ(auth_->check(std::string(64, '0'), out.csrf, "192.0.2.7").state,
            WebAuth::State::expired);

  auth_->logout(out.id);
  EXPECT_EQ(auth_->check(out.id, out.csrf, "192.0.2.7").state, WebAuth::State::expired);
  EXPECT_EQ(auth_->sessions(), 0u);
}

TEST_F(WebAuthTest, SessionsEndWhenIdleOrOld) {
  set_password("the right one");
  auto out = login("192.0.2.7", "the right one");
  ASSERT_EQ(out.status, 200);
  // Used every 9 minutes, it lives to webuiLoginMax (1 h) and no longer.
  for (int i = 0; i < 6; ++i) {
    now_ += std::chrono::minutes(9);
    ASSERT_EQ(auth_->check(out.id, out.csrf, "192.0.2.7").state, WebAuth::State::valid) << i;
  }
  now_ += std::chrono::minutes(6);
  EXPECT_EQ(auth_->check(out.id, out.csrf, "192.0.2.7").state, WebAuth::State::expired);

  auto idle = login("192.0.2.7", "the right one");
  ASSERT_EQ(idle.status, 200);
  now_ += seconds(599);
  EXPECT_EQ(auth_->check(idle.id, idle.csrf, "192.0.2.7").state, WebAuth::State::valid);
  now_ += seconds(600);
  EXPECT_EQ(auth_->check(idle.id, idle.csrf, "192.0.2.7").state, WebAuth::State::expired);
  // Expired means gone: it does not come back.
  now_ -= seconds(600);
  EXPECT_EQ(auth_->check(idle.id, idle.csrf, "192.0.2.7").state, WebAuth::State::expired);
}

TEST_F(WebAuthTest, ANewPasswordEndsLoginsMadeWithTheOld) {
  set_password("the first one");
  auto out = login("192.0.2.7", "the first one");
  ASSERT_EQ(out.status, 200);
  auto token = login("192.0.2.9", std::string(64, 't'), WebAuth::Via::token);
  ASSERT_EQ(token.status, 200);
  set_password("the second one");
  EXPECT_EQ(auth_->check(out.id, out.csrf, "192.0.2.7").state, WebAuth::State::expired);
  // A login with the admin token does not depend on the password.
  EXPECT_EQ(auth_->check(token.id, token.csrf, "192.0.2.9").state, WebAuth::State::valid);
  EXPECT_EQ(login("192.0.2.7", "the first one").status, 401);
  EXPECT_EQ(login("192.0.2.7", "the second one").status, 200);
  // Removing the password ends them too.
  auto again = login("192.0.2.7", "the second one");
  write_password_hash(password_path(dir_.path()), "");
  EXPECT_EQ(auth_->check(again.id, again.csrf, "192.0.2.7").state, WebAuth::State::expired);
}

TEST_F(WebAuthTest, NoPasswordSetSaysHowToSetOne) {
  EXPECT_FALSE(auth_->password_set());
  auto out = login("192.0.2.7", "anything at all");
  EXPECT_EQ(out.status, 409);
  EXPECT_NE(out.error.find("mnigs-cli --set-password"), std::string::npos) << out.error;
  EXPECT_EQ(auth_->sessions(), 0u);
  // The admin token still logs in.
  EXPECT_EQ(login("192.0.2.7", std::string(64, 't'), WebAuth::Via::token).status, 200);
  EXPECT_EQ(login("192.0.2.7", std::string(64, 'u'), WebAuth::Via::token).status, 401);
}

TEST_F(WebAuthTest, AFileThatHoldsNoHashIsAnErrorNotAPassword) {
  std::ofstream(password_path(dir_.path())) << "hunter22\n";
  auto out = login("192.0.2.7", "hunter22");
  EXPECT_EQ(out.status, 500);
  EXPECT_NE(out.error.find("holds no password hash"), std::string::npos) << out.error;
  EXPECT_EQ(auth_->sessions(), 0u);
}

TEST_F(WebAuthTest, WrongTriesWaitLongerEachTime) {
  set_password("the right one");
  const std::string who = "192.0.2.7";
  for (unsigned i = 0; i + 1 < WebAuth::kFreeFailures; ++i)
    ASSERT_EQ(login(who, "wrong").status, 401) << i;
  // The fifth wrong try starts the waiting: 1 s, then 2, 4, ... 300.
  EXPECT_EQ(login(who, "wrong").status, 401);
  auto locked = login(who, "the right one");  // even the right one waits
  EXPECT_EQ(locked.status, 429);
  EXPECT_EQ(locked.retry_after, seconds(1));
  EXPECT_NE(locked.error.find("try again in 1 s"), std::string::npos) << locked.error;
  // Another address is not held up.
  EXPECT_EQ(login("192.0.2.8", "the right one").status, 200);
  std::int64_t expected = 1;
  for (int i = 0; i < 12; ++i) {
    now_ += seconds(expected);
    ASSERT_EQ(login(who, "wrong").status, 401) << i;
    expected = std::min<std::int64_t>(expected * 2, 300);
    auto next = login(who, "wrong");
    ASSERT_EQ(next.status, 429) << i;
    EXPECT_EQ(next.retry_after, seconds(expected)) << i;
  }
  now_ += seconds(300);
  // The right password ends the waiting for the next time.
  EXPECT_EQ(login(who, "the right one").status, 200);
  EXPECT_EQ(login(who, "wrong").status, 401);
  EXPECT_EQ(login(who, "wrong").status, 401);
  EXPECT_GE(auth_->counters().failures.load(), 17u);
  EXPECT_TRUE(log_.contains("wrong logins from 192.0.2.7"));
}

TEST_F(WebAuthTest, AllSourcesTogetherHaveABudget) {
  set_password("the right one");
  // Many addresses, each within its own free tries.
  unsigned wrong = 0;
  for (int a = 0; wrong < WebAuth::kFailuresPerMinute; ++a)
    for (unsigned i = 0; i < 2 && wrong < WebAuth::kFailuresPerMinute; ++i, ++wrong)
      ASSERT_EQ(login("198.51.100." + std::to_string(a), "wrong").status, 401);
  auto out = login("203.0.113.1", "the right one");
  EXPECT_EQ(out.status, 429);
  EXPECT_NE(out.error.find("from everywhere"), std::string::npos) << out.error;
  EXPECT_EQ(out.retry_after, seconds(60));
  EXPECT_EQ(auth_->sessions(), 0u);
  // The owner's token still gets in.
  EXPECT_EQ(login("203.0.113.1", std::string(64, 't'), WebAuth::Via::token).status, 200);
  now_ += seconds(60);
  EXPECT_EQ(login("203.0.113.1", "the right one").status, 200);
}

TEST_F(WebAuthTest, WrongTokensWaitButTheRightTokenAlwaysLogsIn) {
  for (unsigned i = 0; i < WebAuth::kFreeFailures; ++i)
    ASSERT_EQ(login("192.0.2.7", "no", WebAuth::Via::token).status, 401);
  EXPECT_EQ(login("192.0.2.7", "no", WebAuth::Via::token).status, 429);
  // It cannot be guessed: waiting would only lock its owner out.
  EXPECT_EQ(login("192.0.2.7", std::string(64, 't'), WebAuth::Via::token).status, 200);
  // Wrong tokens spend no one else's budget.
  for (int a = 0; a < 10; ++a)
    for (unsigned i = 0; i < WebAuth::kFreeFailures; ++i)
      login("198.51.100." + std::to_string(a), "no", WebAuth::Via::token);
  set_password("the right one");
  EXPECT_EQ(login("203.0.113.1", "the right one").status, 200);
}

TEST_F(WebAuthTest, WrongTriesAreForgottenADayLater) {
  set_password("the right one");
  for (unsigned i = 0; i < WebAuth::kFreeFailures; ++i) login("192.0.2.7", "wrong");
  now_ += WebAuth::kForgetAfter;
  // A typo now is the first of five free ones again.
  EXPECT_EQ(login("192.0.2.7", "wrong").status, 401);
  EXPECT_EQ(login("192.0.2.7", "wrong").status, 401);
  EXPECT_EQ(login("192.0.2.7", "the right one").status, 200);
}

TEST_F(WebAuthTest, OnePasswordCheckAtATimePerSource) {
  set_password("the right one");
  std::vector<std::unique_ptr<std::promise<WebAuth::Outcome>>> promises;
  std::vector<std::future<WebAuth::Outcome>> futures;
  for (int i = 0; i < 4; ++i) {
    promises.push_back(std::make_unique<std::promise<WebAuth::Outcome>>());
    futures.push_back(promises.back()->get_future());
    auto* p = promises.back().get();
    auth_->login("192.0.2.7", WebAuth::Via::password, "guess " + std::to_string(i),
                 [p](WebAuth::Outcome o) { p->set_value(std::move(o)); });
  }
  int checked = 0, told_to_wait = 0;
  for (auto& f : futures) {
    auto o = f.get();
    checked += o.status == 401;
    told_to_wait += o.status == 429;
  }
  EXPECT_EQ(checked + told_to_wait, 4);
  EXPECT_LT(checked, 4) << "guesses sent together were all tried";
  EXPECT_EQ(auth_->counters().failures.load(), static_cast<std::uint64_t>(checked));
}

TEST_F(WebAuthTest, AHashTheLibraryCannotComputeIsAnErrorNotAWrongPassword) {
  write_password_hash(password_path(dir_.path()), "$99$abcdefghijklmnopqrstuvwxyz");
  for (int i = 0; i < 10; ++i) {
    auto out = login("192.0.2.7", "the right one");
    ASSERT_EQ(out.status, 500) << out.error;
  }
  EXPECT_EQ(auth_->counters().failures.load(), 0u);
  EXPECT_TRUE(log_.contains("cannot check the password hash"));
}

TEST_F(WebAuthTest, AtMostSixteenSessionsTheLeastUsedGoes) {
  set_password("the right one");
  std::vector<WebAuth::Outcome> outs;
  for (std::size_t i = 0; i < WebAuth::kMaxSessions; ++i) {
    outs.push_back(login("192.0.2." + std::to_string(i), "the right one"));
    now_ += seconds(1);
  }
  // The first is used again: the second is now the least recently used.
  ASSERT_EQ(auth_->check(outs[0].id, outs[0].csrf, "192.0.2.0").state, WebAuth::State::valid);
  auto extra = login("192.0.2.200", "the right one");
  ASSERT_EQ(extra.status, 200);
  EXPECT_EQ(auth_->sessions(), WebAuth::kMaxSessions);
  EXPECT_EQ(auth_->check(outs[1].id, outs[1].csrf, "192.0.2.1").state, WebAuth::State::expired);
  EXPECT_EQ(auth_->check(outs[0].id, outs[0].csrf, "192.0.2.0").state, WebAuth::State::valid);
  EXPECT_EQ(auth_->check(extra.id, extra.csrf, "192.0.2.200").state, WebAuth::State::valid);
}

TEST_F(WebAuthTest, PasswordChecksInFlightAreBounded) {
  set_password("the right one");
  // Many at once from one thread: those beyond kMaxPending are told to wait.
  std::vector<std::future<WebAuth::Outcome>> futures;
  std::vector<std::unique_ptr<std::promise<WebAuth::Outcome>>> promises;
  for (int i = 0; i < 12; ++i) {
    promises.push_back(std::make_unique<std::promise<WebAuth::Outcome>>());
    futures.push_back(promises.back()->get_future());
    auto* p = promises.back().get();
    auth_->login("192.0.2." + std::to_string(i), WebAuth::Via::password, "the right one",
                 [p](WebAuth::Outcome o) { p->set_value(std::move(o)); });
  }
  int ok = 0, busy = 0;
  for (auto& f : futures) {
    auto o = f.get();
    if (o.status == 200) ++ok;
    if (o.status == 503) {
      ++busy;
      EXPECT_EQ(o.retry_after, seconds(1));
    }
  }
  EXPECT_EQ(ok + busy, 12);
  EXPECT_GE(ok, static_cast<int>(WebAuth::kMaxPending));
  EXPECT_GE(busy, 1);
}

TEST(WebAuthCookie, FindsTheNamedCookie) {
  EXPECT_EQ(WebAuth::cookie_value("mnigs_session=abc", "mnigs_session"), "abc");
  EXPECT_EQ(WebAuth::cookie_value("a=1; mnigs_session=abc; b=2", "mnigs_session"), "abc");
  EXPECT_EQ(WebAuth::cookie_value("a=1;mnigs_session=\"abc\"", "mnigs_session"), "abc");
  EXPECT_EQ(WebAuth::cookie_value("xmnigs_session=abc", "mnigs_session"), "");
  EXPECT_EQ(WebAuth::cookie_value("mnigs_session", "mnigs_session"), "");
  EXPECT_EQ(WebAuth::cookie_value("", "mnigs_session"), "");
  EXPECT_EQ(WebAuth::cookie_value(";;; mnigs_session=; x", "mnigs_session"), "");
}

}  // namespace
}  // namespace mnigs
