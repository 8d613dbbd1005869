// The SQLite store: opening, refusing files it must not touch, migrations,
// the worker thread, and the plugins' key-value store.
#include "store/kv_store.hpp"
#include "store/migrations.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "test_util.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace mnigs {
namespace {

using test::RecordingLogger;
using test::TempDir;
using namespace std::chrono_literals;

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
}

bool exists(const std::string& path) { return std::filesystem::exists(path); }

// Runs SQL on the file through a connection of its own, as another program would.
void exec_on_file(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
  sqlite3_free(err);
  sqlite3_close(db);
}

std::string text(Store& store, const std::string& sql) {
  return store.call<std::string>([&](sqlite3* db) {
    Statement st(db, sql);
    return st.step() ? st.column_text(0) : std::string("<no row>");
  });
}

bool has_table(Store& store, const std::string& name) {
  return text(store, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '" + name +
                         "'") == "1";
}

void put_row(Store& store, const std::string& plugin, const std::string& key,
             const std::string& value) {
  store.call<void>([&](sqlite3* db) {
    Statement st(db, "INSERT INTO plugin_kv (plugin, key, value, updated) VALUES (?, ?, ?, 0)");
    st.bind_text(1, plugin).bind_text(2, key).bind_text(3, value).step();
  });
}

// Starts an operation whose callback takes a T, runs `io` on this thread until
// the callback has run (at most 5 s) and returns what it was given.
template <class T, class Start>
std::optional<T> run_until_done(boost::asio::io_context& io, Start start) {
  std::optional<T> got;
  auto guard = boost::asio::make_work_guard(io);
  start([&got](T value) { got.emplace(std::move(value)); });
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!got && std::chrono::steady_clock::now() < deadline) io.run_one_for(50ms);
  return got;
}

const Migration& v1() { return migrations().at(0); }

// --- opening -------------------------------------------------------------

TEST(StoreOpen, FreshDatabaseIsAtLatestVersionInWalMode) {
  TempDir dir;
  RecordingLogger log;
  const std::string path = dir.file("state/db/mnigs.sqlite");
  auto store = Store::open(path, log);
  EXPECT_EQ(store->path(), path);
  EXPECT_EQ(store->schema_version(), latest_schema_version());
  EXPECT_EQ(text(*store, "PRAGMA user_version"), std::to_string(latest_schema_version()));
  EXPECT_EQ(text(*store, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(text(*store, "PRAGMA foreign_keys"), "1");
  EXPECT_EQ(text(*store, "PRAGMA synchronous"), "1");  // NORMAL
  EXPECT_TRUE(has_table(*store, "plugin_kv"));
  EXPECT_TRUE(log.contains("applied migration 1 (plugin key-value store)"));

  struct stat st {};
  ASSERT_EQ(::stat(dir.file("state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "created directories are private";
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "a new database file is private";
  ASSERT_EQ(::stat((path + "-wal").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the WAL copies the database's mode";
}

TEST(StoreOpen, ReopeningKeepsDataAndAppliesNothing) {
  TempDir dir;
  const std::string path = dir.file("mnigs.sqlite");
  {
    RecordingLogger log;
    auto store = Store::open(path, log);
    put_row(*store, "babel", "neighbour", "fe80::1");
  }
  EXPECT_FALSE(exists(path + "-wal")) << "closing should checkpoint and remove the WAL";
  RecordingLogger log;
  auto store = Store::open(path, log);
  EXPECT_EQ(store->schema_version(), latest_schema_version());
  EXPECT_EQ(text(*store, "SELECT value FROM plugin_kv WHERE key = 'neighbour'"), "fe80::1");
  EXPECT_FALSE(log.contains("applied migration"));
}

TEST(StoreOpen, NewerSchemaIsRefusedAndFileIsUntouched) {
  TempDir dir;
  const std::string path = dir.file("mnigs.sqlite");
  {
    RecordingLogger log;
    auto store = Store::open(path, log);
    put_row(*store, "babel", "k", "v");
  }
  // As if a newer mnigsd had upgraded the file (it stays in WAL mode).
  exec_on_file(path, "PRAGMA user_version = 99");
  const std::string before = file_bytes(path);
  ASSERT_FALSE(exists(path + "-wal"));

  RecordingLogger log;
  try {
    Store::open(path, log);
    FAIL() << "a schema newer than this build must be refused";
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find("schema version 99 is newer than this mnigsd understands (up to " +
                        std::to_string(latest_schema_version()) + ")"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("not modified"), std::string::npos) << what;
  }
  EXPECT_EQ(file_bytes(path), before);
  EXPECT_FALSE(exists(path + "-wal"));
  EXPECT_FALSE(exists(path + "-shm"));
}

TEST(StoreOpen, NewerSchemaStillInTheWalIsRefusedAndLeftAlone) {
  TempDir dir;
  const std::string path = dir.file("mnigs.sqlite");
  {
    RecordingLogger log;
    Store::open(path, log);
  }
  // A newer mnigsd killed before its last checkpoint: the upgrade and its
  // data live only in the -wal file, which must not be merged or deleted.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, static_cast<int*>(nullptr));
  ASSERT_EQ(sqlite3_exec(db,
                         "PRAGMA wal_autocheckpoint = 0; PRAGMA user_version = 99;"
                         "INSERT INTO plugin_kv VALUES ('p', 'k', 'v', 0);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  const std::string main_before = file_bytes(path);
  const std::string wal_before = file_bytes(path + "-wal");
  ASSERT_FALSE(wal_before.empty());

  RecordingLogger log;
  EXPECT_THROW(Store::open(path, log), StoreError);
  EXPECT_EQ(file_bytes(path), main_before);
  EXPECT_EQ(file_bytes(path + "-wal"), wal_before);
}

TEST(StoreOpen, GarbageFileIsRefusedAndFileIsUntouched) {
  TempDir dir;
  const std::string path = dir.file("mnigs.sqlite");
  std::string garbage;
  while (garbage.size() < 4096) garbage += "this is a config file, not a database\n";
  garbage.resize(4096);
  write_bytes(path, garbage);

  RecordingLogger log;
  try {
    Store::open(path, log);
    FAIL() << "a file that is not a database must be refused";
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("database " + path +
                        ": file is not an SQLite database or is corrupt (file is not a database)"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("move it away or restore a backup"), std::string::npos) << what;
    EXPECT_NE(what.find("did not modify it"), std::string::npos) << what;
  }
  EXPECT_EQ(file_bytes(path), garbage);
  EXPECT_FALSE(exists(path + "-wal"));
  EXPECT_FALSE(exists(path + "-shm"));
  EXPECT_FALSE(exists(path + "-journal"));
}

TEST(StoreOpen, DamagedPagesAreRefusedByTheIntegrityCheck) {
  TempDir dir;
  const std::string path = dir.file("mnigs.sqlite");
  {
    RecordingLogger log;
    auto store = Store::open(path, log);
    store->call<void>([](sqlite3* db) {
      Transaction tx(db);
      Statement st(db, "INSERT INTO plugin_kv (plugin, key, value, updated) VALUES ('p', ?, ?, 0)");
      for (int i = 0; i < 500; ++i) {
        st.bind_text(1, "key" + std::to_string(i)).bind_text(2, std::string(200, 'x')).step();
        st.reset();
      }
      tx.commit();
    });
  }
  // Overwrite the header of page 3 (a b-tree page of plugin_kv), as a bad
  // flash block would; page 1, with the schema version, stays intact.
  std::string bytes = file_bytes(path);
  ASSERT_GT(bytes.size(), 4u * 4096);
  for (std::size_t i = 2 * 4096; i < 2 * 4096 + 16; ++i) bytes[i] = '\xab';
  write_bytes(path, bytes);

  RecordingLogger log;
  try {
    Store::open(path, log);
    FAIL() << "a damaged database must be refused";
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_TRUE(what.find("integrity check failed") != std::string::npos ||
                what.find("is corrupt") != std::string::npos)
        << what;
    EXPECT_NE(what.find("did not modify it"), std::string::npos) << what;
  }
  EXPECT_EQ(file_bytes(path), bytes);
  EXPECT_FALSE(exists(path + "-wal"));
  EXPECT_FALSE(exists(path + "-shm"));
}

TEST(StoreOpen, UnwritableLocationNamesThePath) {
  TempDir dir;
  write_bytes(dir.file("plainfile"), "x");
  RecordingLogger log;
  try {
    Store::open(dir.file("plainfile/mnigs.sqlite"), log);
    FAIL() << "a database under a regular file cannot be opened";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("plainfile/mnigs.sqlite")), std::string::npos)
        << e.what();
  }
}

// --- migrations ----------------------------------------------------------

TEST(StoreMigrations, ShippedListIsNumberedFromOneWithoutGaps) {
  const auto& list = migrations();
  ASSERT_FALSE(list.empty());
  for (std::size_t i = 0; i < list.size(); ++i) {
    EXPECT_EQ(list[i].version, static_cast<int>(i) + 1) << "entry " << i;
    EXPECT_NE(std::string(list[i].description), "") << "entry " << i;
    EXPECT_NE(std::string(list[i].sql), "") << "entry " << i;
  }
  EXPECT_EQ(latest_schema_version(), list.back().version);
}

TEST(StoreMigrations, ListWithAGapIsRejected) {
  TempDir dir;
  RecordingLogger log;
  std::vector<Migration> list{v1(), {3, "skips two", "CREATE TABLE t3(x)"}};
  EXPECT_THROW(Store::open(dir.file("mnigs.sqlite"), log, list), std::logic_error);
  EXPECT_FALSE(exists(dir.file("mnigs.sqlite")));
}

TEST(StoreMigrations, UpgradeKeepsDataAndAppliesTheNewMigration) {
  TempDir dir;
  const std::string path = dir.file("mnigs.sqlite");
  {
    RecordingLogger log;
    auto store = Store::open(path, log, {v1()});
    EXPECT_EQ(store->schema_version(), 1);
    put_row(*store, "babel", "route", "10.0.0.0/8");
  }
  const Migration v2{2, "route notes",
                     "CREATE TABLE route_note (route TEXT PRIMARY KEY, note TEXT);\n"
                     "INSERT INTO route_note (route) SELECT value FROM plugin_kv;"};
  RecordingLogger log;
  auto store = Store::open(path, log, {v1(), v2});
  EXPECT_EQ(store->schema_version(), 2);
  EXPECT_EQ(text(*store, "PRAGMA user_version"), "2");
  EXPECT_EQ(text(*store, "SELECT value FROM plugin_kv WHERE key = 'route'"), "10.0.0.0/8");
  EXPECT_EQ(text(*store, "SELECT route FROM route_note"), "10.0.0.0/8");
  EXPECT_TRUE(log.contains("applied migration 2 (route notes)"));
  EXPECT_FALSE(log.contains("applied migration 1"));
}

// Migration 7: a connection recorded before it is resumed with no gateway key.
TEST(StoreMigrations, TheSubscribersConnectionSurvivesTheGatewayKeyMigration) {
  TempDir dir;
  const std::string path = dir.file("mnigs.sqlite");
  {
    RecordingLogger log;
    const std::vector<Migration> six(migrations().begin(), migrations().begin() + 6);
    auto store = Store::open(path, log, six);
    ASSERT_EQ(store->schema_version(), 6);
    store->call<bool>([](sqlite3* db) {
      exec(db, "INSERT INTO subscriber_connection VALUES (1, '10.0.0.1', 65533, 'gw', 'sid', "
               "'secret', 'babel-websocket-free', '{}', 60, 100, 160)");
      return true;
    });
  }
  RecordingLogger log;
  auto store = Store::open(path, log);
  EXPECT_GE(store->schema_version(), 7);
  EXPECT_TRUE(log.contains("applied migration 7 (the gateway key the subscriber's tunnel pins)"));
  EXPECT_EQ(text(*store, "SELECT session_id || ',' || gateway_key || ',' || gateway_key_source "
                         "FROM subscriber_connection"),
            "sid,,");
}

TEST(StoreMigrations, FailingMigrationRollsBackAndIsNamed) {
  TempDir dir;
  const std::string path = dir.file("mnigs.sqlite");
  {
    RecordingLogger log;
    auto store = Store::open(path, log, {v1()});
    put_row(*store, "babel", "route", "10.0.0.0/8");
  }
  const Migration broken{2, "session table",
                         "CREATE TABLE half_done (x INTEGER);\n"
                         "INSERT INTO no_such_table VALUES (1);"};
  RecordingLogger log;
  try {
    Store::open(path, log, {v1(), broken});
    FAIL() << "the broken migration should have thrown";
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("migration 2 (session table) failed"), std::string::npos) << what;
    EXPECT_NE(what.find("no such table: no_such_table"), std::string::npos) << what;
    EXPECT_NE(what.find("INSERT INTO no_such_table"), std::string::npos) << what;
    EXPECT_NE(what.find("left at schema version 1"), std::string::npos) << what;
  }
  auto store = Store::open(path, log, {v1()});
  EXPECT_EQ(text(*store, "PRAGMA user_version"), "1");
  EXPECT_FALSE(has_table(*store, "half_done"));
  EXPECT_EQ(text(*store, "SELECT value FROM plugin_kv WHERE key = 'route'"), "10.0.0.0/8");
}

// --- the worker ----------------------------------------------------------

class StoreWorker : public ::testing::Test {
 protected:
  void SetUp() override { store_ = Store::open(dir_.file("mnigs.sqlite"), log_); }
  TempDir dir_;
  RecordingLogger log_;
  // Before store_: the worker may still be inside a post() to io_ when a
  // test ends, so the store (which joins the worker) must go first.
  boost::asio::io_context io_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreWorker, PostedWorkRunsOnAnotherThreadInOrder) {
  std::thread::id ran_on;
  std::vector<int> order;
  bool saw_connection = false;
  store_->post([&](sqlite3* db) {
    ran_on = std::this_thread::get_id();
    saw_connection = db != nullptr && store_->on_worker_thread();
    order.push_back(1);
  });
  store_->post([&](sqlite3*) { order.push_back(2); });
  store_->flush();
  EXPECT_NE(ran_on, std::thread::id());
  EXPECT_NE(ran_on, std::this_thread::get_id());
  EXPECT_TRUE(saw_connection);
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_FALSE(store_->on_worker_thread());
}

TEST_F(StoreWorker, QueryDeliversTheResultOnTheGivenExecutor) {
  std::thread::id done_on;
  auto got = run_until_done<std::string>(io_, [&](auto deliver) {
    store_->query<std::string>(
        [](sqlite3* db) {
          Statement st(db, "SELECT 'ok from ' || sqlite_version()");
          st.step();
          return st.column_text(0);
        },
        io_.get_executor(),
        [&, deliver](std::string result) {
          done_on = std::this_thread::get_id();
          deliver(std::move(result));
        });
  });
  ASSERT_TRUE(got);
  EXPECT_EQ(got->rfind("ok from 3.", 0), 0u) << *got;
  EXPECT_EQ(done_on, std::this_thread::get_id());
}

TEST_F(StoreWorker, FailedQueryCallsFailedNotDone) {
  bool done_called = false;
  auto error = run_until_done<std::string>(io_, [&](auto deliver) {
    store_->query<int>(
        [](sqlite3* db) {
          Statement st(db, "SELECT nope FROM plugin_kv");
          return 0;
        },
        io_.get_executor(), [&](int) { done_called = true; }, deliver);
  });
  ASSERT_TRUE(error);
  EXPECT_NE(error->find("no such column: nope"), std::string::npos) << *error;
  io_.restart();
  io_.poll();
  EXPECT_FALSE(done_called);
  EXPECT_TRUE(log_.contains("query failed: no such column: nope"));
}

TEST_F(StoreWorker, ExceptionInPostedWorkIsLoggedAndTheStoreCarriesOn) {
  store_->post([](sqlite3*) { throw std::runtime_error("disk on fire"); });
  store_->flush();
  EXPECT_TRUE(log_.contains("disk on fire"));
  EXPECT_EQ(text(*store_, "SELECT 40 + 2"), "42");
}

TEST_F(StoreWorker, CallRethrowsInTheCaller) {
  EXPECT_THROW(store_->call<int>([](sqlite3* db) {
    exec(db, "SELECT * FROM missing_table");
    return 1;
  }),
               StoreError);
  EXPECT_EQ(store_->call<int>([](sqlite3*) { return 7; }), 7);
}

TEST_F(StoreWorker, CallFromTheWorkerIsRefusedInsteadOfDeadlocking) {
  std::string error;
  store_->post([&](sqlite3*) {
    try {
      store_->flush();
    } catch (const std::logic_error& e) {
      error = e.what();
    }
  });
  store_->flush();
  EXPECT_NE(error.find("own worker thread"), std::string::npos) << error;
}

TEST(StoreShutdown, QueuedWorkReachesTheDiskBeforeClose) {
  TempDir dir;
  const std::string path = dir.file("mnigs.sqlite");
  RecordingLogger log;
  {
    auto store = Store::open(path, log);
    store->post([](sqlite3* db) {
      // Slow enough that the destructor starts while the rest is queued.
      std::this_thread::sleep_for(50ms);
      exec(db, "INSERT INTO plugin_kv VALUES ('p', 'a', '1', 0)");
    });
    for (int i = 0; i < 20; ++i)
      store->post([i](sqlite3* db) {
        exec(db, "INSERT INTO plugin_kv VALUES ('p', 'b" + std::to_string(i) + "', '1', 0)");
      });
  }
  auto store = Store::open(path, log);
  EXPECT_EQ(text(*store, "SELECT count(*) FROM plugin_kv"), "21");
}

// --- helpers -------------------------------------------------------------

TEST(StoreSqlite, ErrorsNameTheFailingStatement) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  try {
    exec(db, "CREATE TABLE t (x); INSERT INTO t VALUES (1); UPDATE missing SET x = 2 WHERE x = 1");
    ADD_FAILURE() << "exec should have thrown";
  } catch (const StoreError& e) {
    EXPECT_NE(std::string(e.what()).find("no such table: missing"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("(in \"UPDATE missing SET x = 2 ...\")"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(sql_excerpt("  SELECT\n\t a,   b FROM t  "), "SELECT a, b FROM t");
  sqlite3_close(db);
}

TEST(StoreSqlite, TransactionRollsBackUnlessCommitted) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  exec(db, "CREATE TABLE t (x)");
  try {
    Transaction tx(db);
    exec(db, "INSERT INTO t VALUES (1)");
    throw std::runtime_error("abandon");
  } catch (const std::runtime_error&) {
  }
  {
    Transaction tx(db);
    exec(db, "INSERT INTO t VALUES (2)");
    tx.commit();
  }
  {
    Statement st(db, "SELECT group_concat(x) FROM t");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_text(0), "2");
    st = Statement(db, "SELECT ?, ?, ?");
    const std::uint8_t blob[] = {0, 1, 2};
    st.bind_null(1).bind_text(2, std::string("a\0b", 3)).bind_blob(3, blob, sizeof blob);
    ASSERT_TRUE(st.step());
    EXPECT_TRUE(st.column_is_null(0));
    EXPECT_EQ(st.column_text(1), std::string("a\0b", 3));
    EXPECT_EQ(st.column_blob(2), (std::vector<std::uint8_t>{0, 1, 2}));
    EXPECT_FALSE(st.step());
  }
  EXPECT_EQ(sqlite3_close(db), SQLITE_OK) << "every statement is finalized";
}

// --- the plugins' key-value store ----------------------------------------

class KvStoreTest : public StoreWorker {
 protected:
  std::unique_ptr<KeyValueStore> kv(const std::string& plugin) {
    return store_->namespaced(plugin, io_.get_executor(), log_);
  }
  std::optional<std::string> get(KeyValueStore& kv, const std::string& key) {
    auto got = run_until_done<std::optional<std::string>>(
        io_, [&](auto deliver) { kv.get(key, deliver); });
    EXPECT_TRUE(got) << "no answer for " << key;
    return got ? *got : std::nullopt;
  }
  bool put(KeyValueStore& kv, const std::string& key, const std::string& value) {
    return run_until_done<bool>(io_, [&](auto deliver) { kv.put(key, value, deliver); })
        .value_or(false);
  }
  std::vector<KeyValueStore::Row> list(KeyValueStore& kv, const std::string& prefix) {
    return run_until_done<std::vector<KeyValueStore::Row>>(
               io_, [&](auto deliver) { kv.list(prefix, deliver); })
        .value_or(std::vector<KeyValueStore::Row>{{"<no answer>", ""}});
  }
};

TEST_F(KvStoreTest, PutGetEraseList) {
  auto store = kv("babel");
  EXPECT_EQ(get(*store, "missing"), std::nullopt);
  EXPECT_TRUE(put(*store, "gw/1", "10.0.0.1"));
  EXPECT_TRUE(put(*store, "gw/2", "10.0.0.2"));
  EXPECT_TRUE(put(*store, "gw/1", "10.0.0.11"));  // replaces
  store->put("other", "x");                       // no callback: still ordered before the get
  EXPECT_EQ(get(*store, "other"), "x");
  EXPECT_EQ(get(*store, "gw/1"), "10.0.0.11");
  EXPECT_EQ(list(*store, "gw/"),
            (std::vector<KeyValueStore::Row>{{"gw/1", "10.0.0.11"}, {"gw/2", "10.0.0.2"}}));
  EXPECT_EQ(list(*store, "").size(), 3u);

  auto erased = run_until_done<bool>(io_, [&](auto deliver) { store->erase("gw/1", deliver); });
  EXPECT_EQ(erased, true);
  EXPECT_EQ(get(*store, "gw/1"), std::nullopt);
  erased = run_until_done<bool>(io_, [&](auto deliver) { store->erase("gw/1", deliver); });
  EXPECT_EQ(erased, true) << "erasing a missing key is not an error";

  const auto updated = text(*store_, "SELECT updated FROM plugin_kv WHERE key = 'gw/2'");
  EXPECT_GT(std::stoll(updated), 1600000000) << "updated is unix time in seconds";
}

TEST_F(KvStoreTest, NamespacesAreIsolated) {
  auto alpha = kv("alpha");
  auto beta = kv("beta");
  EXPECT_TRUE(put(*alpha, "token", "a"));
  EXPECT_TRUE(put(*beta, "token", "b"));
  EXPECT_EQ(get(*alpha, "token"), "a");
  EXPECT_EQ(get(*beta, "token"), "b");
  EXPECT_EQ(list(*alpha, ""), (std::vector<KeyValueStore::Row>{{"token", "a"}}));
  run_until_done<bool>(io_, [&](auto deliver) { alpha->erase("token", deliver); });
  EXPECT_EQ(get(*alpha, "token"), std::nullopt);
  EXPECT_EQ(get(*beta, "token"), "b");
}

TEST_F(KvStoreTest, ListPrefixTreatsPercentAndUnderscoreLiterally) {
  auto store = kv("p");
  for (const char* key : {"a%1", "a%%", "a_2", "ab3", "aX4", "a", "b", "z\xff\xff", "z\xff"})
    ASSERT_TRUE(put(*store, key, "v"));
  auto keys = [&](const std::string& prefix) {
    std::vector<std::string> out;
    for (const auto& row : list(*store, prefix)) out.push_back(row.first);
    return out;
  };
  EXPECT_EQ(keys("a%"), (std::vector<std::string>{"a%%", "a%1"}));
  EXPECT_EQ(keys("a_"), (std::vector<std::string>{"a_2"}));
  EXPECT_EQ(keys("a"), (std::vector<std::string>{"a", "a%%", "a%1", "aX4", "a_2", "ab3"}));
  EXPECT_EQ(keys("z\xff"), (std::vector<std::string>{"z\xff", "z\xff\xff"}));
  EXPECT_EQ(keys("nothing"), std::vector<std::string>{});

  EXPECT_EQ(prefix_upper_bound("ab"), "ac");
  EXPECT_EQ(prefix_upper_bound("a\xff\xff"), "b");
  EXPECT_EQ(prefix_upper_bound("\xff"), std::nullopt);
  EXPECT_EQ(prefix_upper_bound(""), std::nullopt);
}

TEST_F(KvStoreTest, FailuresAreLoggedAndReported) {
  auto store = kv("babel");
  store_->call<void>([](sqlite3* db) { exec(db, "DROP TABLE plugin_kv"); });
  EXPECT_FALSE(put(*store, "neighbour", "fe80::1"));
  EXPECT_TRUE(log_.contains("writing key \"neighbour\" failed: no such table: plugin_kv"));
  EXPECT_EQ(get(*store, "neighbour"), std::nullopt);
  EXPECT_EQ(list(*store, ""), std::vector<KeyValueStore::Row>{});
  EXPECT_EQ(run_until_done<bool>(io_, [&](auto deliver) { store->erase("neighbour", deliver); }),
            false);
}

}  // namespace
}  // namespace mnigs
