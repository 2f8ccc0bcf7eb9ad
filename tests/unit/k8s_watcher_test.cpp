#include "k8s/watcher.h"

#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "k8s/line_splitter.h"

extern char** environ;

namespace spanwire::k8s {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr auto kWait = 15s;  // bound of every wait for the watcher

// ------------------------------------------------------------ helpers

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "k8s_watcher_test.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name, const std::string& content) const {
    const auto p = path_ / name;
    std::ofstream(p) << content;
    return p.string();
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

size_t collect(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

// One plain HTTP request to the fake server's control paths.
json http(const std::string& url, const std::string* post_body = nullptr) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), curl_easy_cleanup);
  std::string body;
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
  if (post_body != nullptr) curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, post_body->c_str());
  if (curl_easy_perform(h.get()) != CURLE_OK) throw std::runtime_error("fake API server unreachable: " + url);
  return json::parse(body);
}

// tests/e2e/fake_apiserver.py, run for one test.
class FakeApiServer {
 public:
  explicit FakeApiServer(const std::string& state_file = "", const std::vector<std::string>& extra_args = {}) {
    int out[2];
    if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<std::string> args{"/usr/bin/python3", SPANWIRE_TEST_DATA "/../e2e/fake_apiserver.py", "--token",
                                  "good-token"};
    if (!state_file.empty()) args.insert(args.end(), {"--state", state_file});
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    scheme_ = std::find(extra_args.begin(), extra_args.end(), "--tls-cert") != extra_args.end() ? "https" : "http";
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (rc != 0) {
      ::close(out[0]);
      throw std::runtime_error("cannot start fake_apiserver.py");
    }
    std::string line;
    pollfd p{out[0], POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<size_t>(n));
    }
    ::close(out[0]);
    const auto colon = line.rfind(':');
    if (!line.starts_with("listening 127.0.0.1:") || colon == std::string::npos)
      throw std::runtime_error("fake_apiserver.py did not start: " + line);
    url_ = scheme_ + "://127.0.0.1:" + std::to_string(std::stoi(line.substr(colon + 1)));
  }
  ~FakeApiServer() {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  const std::string& url() const { return url_; }
  // Returns the server's resourceVersion after the change.
  std::string control(const json& command) {
    const std::string body = command.dump();
    return http(url_ + "/_control", &body).at("resourceVersion").get<std::string>();
  }
  std::string add(const std::string& kind, const json& object) {
    return control({{"op", "add"}, {"kind", kind}, {"object", object}});
  }
  json requests() { return http(url_ + "/_requests"); }
  int open_watches(const std::string& kind) { return http(url_ + "/_watches").at(kind).get<int>(); }

 private:
  pid_t pid_ = -1;
  std::string scheme_;
  std::string url_;
};

json pod(const std::string& name, const std::string& node, const std::string& label = "") {
  json p = {{"metadata", {{"name", name}, {"namespace", "shop"}}}, {"spec", {{"nodeName", node}}}};
  if (!label.empty()) p["metadata"]["labels"] = {{"app", label}};
  return p;
}

json named(const std::string& name) { return {{"metadata", {{"name", name}, {"namespace", "shop"}}}}; }

// What the watcher delivered, as lines like "list pods a,b" or "ADDED pods c".
class Recorder {
 public:
  Watcher::Callbacks callbacks() {
    return {[this](Kind kind, const json& items) {
              std::string names;
              for (const auto& item : items) names += (names.empty() ? "" : ",") + name_of(item);
              record("list " + std::string(kind_name(kind)) + " " + names);
            },
            [this](Kind kind, EventType type, const json& object) {
              static constexpr const char* kTypes[] = {"ADDED", "MODIFIED", "DELETED"};
              record(std::string(kTypes[static_cast<int>(type)]) + " " + std::string(kind_name(kind)) + " " +
                     name_of(object));
            }};
  }

  // Waits (bounded) until `count` records exist; returns them all.
  std::vector<std::string> wait_for(size_t count) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, kWait, [&] { return records_.size() >= count; });
    return records_;
  }
  std::vector<std::string> records() {
    const std::lock_guard lock(mutex_);
    return records_;
  }

 private:
  static std::string name_of(const json& object) { return object.at("metadata").at("name").get<std::string>(); }
  void record(std::string line) {
    {
      const std::lock_guard lock(mutex_);
      records_.push_back(std::move(line));
    }
    cv_.notify_all();
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> records_;
};

// Polls `done` (bounded by kWait).
template <typename Pred>
bool eventually(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

Watcher::Options fast_options(std::vector<Kind> kinds) {
  Watcher::Options o;
  o.kinds = std::move(kinds);
  o.backoff_initial = 20ms;
  o.backoff_max = 100ms;
  return o;
}

// The API requests (not control ones) the server saw for `path`, watches or lists.
std::vector<json> api_requests(FakeApiServer& server, const std::string& path, bool watches) {
  std::vector<json> out;
  for (const auto& r : server.requests())
    if (r.at("path") == path && r.at("query").contains("watch") == watches) out.push_back(r);
  return out;
}

struct Fixture {
  TempDir dir;
  std::string token_file = dir.file("token", "good-token\n");
  FakeApiServer server;
  Recorder recorder;

  explicit Fixture(const json& state = json::object()) : server(dir.file("state.json", state.dump())) {}
  ApiConfig config(const std::string& node = "node-1") const { return {server.url(), token_file, "", node}; }
};

// ------------------------------------------------------------ tests

TEST(K8sLineSplitter, JoinsSlicesAndSkipsEmptyLines) {
  LineSplitter s(100);
  EXPECT_TRUE(s.feed("{\"a\"").empty());
  EXPECT_EQ(s.feed(":1}\r\n\n{\"b\":2}\n{\"c\""), (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}"}));
  EXPECT_EQ(s.pending(), 4u);
  EXPECT_EQ(s.feed(":3}\n"), (std::vector<std::string>{"{\"c\":3}"}));
  EXPECT_FALSE(s.overflowed());
}

TEST(K8sLineSplitter, ReportsAnOverlongLine) {
  LineSplitter s(8);
  EXPECT_EQ(s.feed("12345\n"), (std::vector<std::string>{"12345"}));
  EXPECT_TRUE(s.feed("123456789").empty());
  EXPECT_TRUE(s.overflowed());
  s.reset();
  EXPECT_EQ(s.feed("ok\n"), (std::vector<std::string>{"ok"}));
}

TEST(K8sWatcher, ListsThisNodesPodsThenDeliversWatchEventsInOrder) {
  Fixture f(json{{"pods", {pod("a", "node-1"), pod("b", "node-1"), pod("other", "node-2")}}});
  Watcher watcher(f.config(), f.recorder.callbacks(), fast_options({Kind::kPod}));
  ASSERT_EQ(f.recorder.wait_for(1), (std::vector<std::string>{"list pods a,b"}));
  ASSERT_TRUE(eventually([&] { return f.server.open_watches("pods") == 1; }));

  f.server.add("pods", pod("c", "node-1"));
  f.server.add("pods", pod("elsewhere", "node-2"));
  f.server.control({{"op", "modify"}, {"kind", "pods"}, {"object", pod("a", "node-1", "web")}});
  f.server.control({{"op", "delete"}, {"kind", "pods"}, {"object", pod("b", "node-1")}});
  EXPECT_EQ(f.recorder.wait_for(4), (std::vector<std::string>{"list pods a,b", "ADDED pods c", "MODIFIED pods a",
                                                                "DELETED pods b"}));

  const auto lists = api_requests(f.server, "/api/v1/pods", false);
  ASSERT_EQ(lists.size(), 1u);
  EXPECT_EQ(lists[0]["query"]["fieldSelector"], "spec.nodeName=node-1");
  EXPECT_EQ(lists[0]["auth"], "Bearer good-token");
  const auto watches = api_requests(f.server, "/api/v1/pods", true);
  ASSERT_EQ(watches.size(), 1u);
  EXPECT_EQ(watches[0]["query"]["resourceVersion"], "4");  // the list's: three pods added after rv 1
  EXPECT_EQ(watches[0]["query"]["allowWatchBookmarks"], "true");
  EXPECT_EQ(watches[0]["query"]["fieldSelector"], "spec.nodeName=node-1");
  EXPECT_EQ(watcher.lists(), 1u);
  EXPECT_EQ(watcher.events(), 3u);
  EXPECT_EQ(watcher.errors(), 0u);
}

TEST(K8sWatcher, PagesThroughALongListWithContinue) {
  json services = json::array();
  for (const char* name : {"s1", "s2", "s3", "s4", "s5"}) services.push_back(named(name));
  Fixture f(json{{"services", services}});
  auto options = fast_options({Kind::kService});
  options.page_limit = 2;
  Watcher watcher(f.config(), f.recorder.callbacks(), options);
  EXPECT_EQ(f.recorder.wait_for(1), (std::vector<std::string>{"list services s1,s2,s3,s4,s5"}));
  const auto lists = api_requests(f.server, "/api/v1/services", false);
  ASSERT_EQ(lists.size(), 3u);
  EXPECT_FALSE(lists[0]["query"].contains("continue"));
  EXPECT_TRUE(lists[1]["query"].contains("continue"));
  EXPECT_TRUE(lists[2]["query"].contains("continue"));
  EXPECT_EQ(lists[2]["query"]["limit"], "2");
  EXPECT_EQ(watcher.lists(), 1u);
}

TEST(K8sWatcher, ResumesADroppedWatchFromTheLastResourceVersion) {
  Fixture f(json{{"jobs", {named("j1")}}});
  Watcher watcher(f.config(), f.recorder.callbacks(), fast_options({Kind::kJob}));
  ASSERT_EQ(f.recorder.wait_for(1).size(), 1u);
  ASSERT_TRUE(eventually([&] { return f.server.open_watches("jobs") == 1; }));
  const std::string rv = f.server.add("jobs", named("j2"));
  ASSERT_EQ(f.recorder.wait_for(2).back(), "ADDED jobs j2");

  f.server.control({{"op", "drop_watches"}});
  ASSERT_TRUE(eventually([&] { return api_requests(f.server, "/apis/batch/v1/jobs", true).size() == 2; }));
  EXPECT_EQ(api_requests(f.server, "/apis/batch/v1/jobs", true)[1]["query"]["resourceVersion"], rv);
  ASSERT_TRUE(eventually([&] { return f.server.open_watches("jobs") == 1; }));
  f.server.add("jobs", named("j3"));
  EXPECT_EQ(f.recorder.wait_for(3),
            (std::vector<std::string>{"list jobs j1", "ADDED jobs j2", "ADDED jobs j3"}));  // no relist
  EXPECT_EQ(watcher.lists(), 1u);
  EXPECT_GE(watcher.watch_restarts(), 1u);
}

TEST(K8sWatcher, RelistsOnA410ErrorEvent) {
  Fixture f(json{{"replicasets", {named("r1")}}});
  Watcher watcher(f.config(), f.recorder.callbacks(), fast_options({Kind::kReplicaSet}));
  ASSERT_EQ(f.recorder.wait_for(1).size(), 1u);
  ASSERT_TRUE(eventually([&] { return f.server.open_watches("replicasets") == 1; }));
  f.server.add("replicasets", named("r2"));
  ASSERT_EQ(f.recorder.wait_for(2).back(), "ADDED replicasets r2");
  f.server.control({{"op", "expire"}});
  EXPECT_EQ(f.recorder.wait_for(3).back(), "list replicasets r1,r2");
  EXPECT_EQ(watcher.relists_410(), 1u);
  EXPECT_EQ(watcher.lists(), 2u);
}

TEST(K8sWatcher, RelistsWhenTheWatchIsRefusedWith410Status) {
  Fixture f(json{{"services", {named("s1")}}});
  Watcher watcher(f.config(), f.recorder.callbacks(), fast_options({Kind::kService}));
  ASSERT_EQ(f.recorder.wait_for(1).size(), 1u);
  ASSERT_TRUE(eventually([&] { return f.server.open_watches("services") == 1; }));
  // The open watch is told 410 by event; the re-watch would be refused by status.
  f.server.control({{"op", "expire"}, {"gone_as", "status"}});
  f.server.control({{"op", "drop_watches"}});
  EXPECT_EQ(f.recorder.wait_for(2), (std::vector<std::string>{"list services s1", "list services s1"}));
  EXPECT_GE(watcher.relists_410(), 1u);
}

TEST(K8sWatcher, BookmarksAdvanceTheResourceVersionSilently) {
  Fixture f(json{{"pods", {pod("a", "node-1")}}});
  Watcher watcher(f.config(), f.recorder.callbacks(), fast_options({Kind::kPod}));
  ASSERT_EQ(f.recorder.wait_for(1).size(), 1u);
  ASSERT_TRUE(eventually([&] { return f.server.open_watches("pods") == 1; }));
  const std::string bookmark_rv = f.server.control({{"op", "bookmark"}, {"kind", "pods"}});
  // The bookmark's version is the one a re-watch must start from; it is
  // seen once the re-watch asks for it.
  bool resumed_from_bookmark = false;
  for (int attempt = 0; attempt < 50 && !resumed_from_bookmark; ++attempt) {
    std::this_thread::sleep_for(50ms);
    f.server.control({{"op", "drop_watches"}});
    ASSERT_TRUE(eventually([&] { return f.server.open_watches("pods") == 1; }));
    resumed_from_bookmark = api_requests(f.server, "/api/v1/pods", true).back()["query"]["resourceVersion"] == bookmark_rv;
  }
  EXPECT_TRUE(resumed_from_bookmark);
  EXPECT_EQ(watcher.events(), 0u);
  EXPECT_EQ(f.recorder.records().size(), 1u);
}

TEST(K8sWatcher, ReportsARejectedTokenAndRereadsTheFileOnRetry) {
  Fixture f(json{{"pods", {pod("a", "node-1")}}});
  f.dir.file("token", "stale-token");
  Watcher watcher(f.config(), f.recorder.callbacks(), fast_options({Kind::kPod}));
  ASSERT_TRUE(eventually([&] { return watcher.errors() >= 2; }));  // 401, then retried
  EXPECT_TRUE(f.recorder.records().empty());
  f.dir.file("token", "good-token");  // the rotated token
  EXPECT_EQ(f.recorder.wait_for(1), (std::vector<std::string>{"list pods a"}));
  EXPECT_EQ(api_requests(f.server, "/api/v1/pods", false).front()["auth"], "Bearer stale-token");
}

TEST(K8sWatcher, RetriesServerErrors) {
  Fixture f(json{{"jobs", {named("j1")}}});
  f.server.control({{"op", "fail"}, {"status", 503}, {"count", 2}});
  Watcher watcher(f.config(), f.recorder.callbacks(), fast_options({Kind::kJob}));
  EXPECT_EQ(f.recorder.wait_for(1), (std::vector<std::string>{"list jobs j1"}));
  EXPECT_EQ(watcher.errors(), 2u);
}

TEST(K8sWatcher, WatchesEveryKindAtOnce) {
  Fixture f(json{{"pods", {pod("p", "node-1")}}, {"replicasets", {named("r")}}, {"jobs", {named("j")}},
             {"services", {named("s")}}});
  Watcher watcher(f.config(), f.recorder.callbacks());
  auto records = f.recorder.wait_for(4);
  std::sort(records.begin(), records.end());
  EXPECT_EQ(records, (std::vector<std::string>{"list jobs j", "list pods p", "list replicasets r", "list services s"}));
}

TEST(K8sWatcher, StopsPromptlyWithAWatchOpen) {
  Fixture f(json{{"pods", {pod("a", "node-1")}}});
  auto watcher = std::make_unique<Watcher>(f.config(), f.recorder.callbacks(), fast_options({Kind::kPod}));
  ASSERT_TRUE(eventually([&] { return f.server.open_watches("pods") == 1; }));
  auto stopped = std::async(std::launch::async, [&] { watcher.reset(); });
  ASSERT_EQ(stopped.wait_for(kWait), std::future_status::ready);  // a bound, not a timing
}

TEST(K8sWatcher, StopsPromptlyWhileBackingOff) {
  TempDir dir;
  Watcher::Options options;
  options.kinds = {Kind::kService};
  options.backoff_initial = 30s;  // long: only the stop request ends the wait
  auto watcher = std::make_unique<Watcher>(ApiConfig{"http://127.0.0.1:1", dir.file("token", "t"), "", "n"},
                                           Watcher::Callbacks{}, options);
  ASSERT_TRUE(eventually([&] { return watcher->errors() >= 1; }));
  auto stopped = std::async(std::launch::async, [&] { watcher.reset(); });
  ASSERT_EQ(stopped.wait_for(kWait), std::future_status::ready);
}

// A self-signed certificate for 127.0.0.1 (openssl's command line), as "<dir>/<name>.{crt,key}".
void make_certificate(const TempDir& dir, const std::string& name) {
  const std::string base = dir.path() + "/" + name;
  const std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                              "-addext subjectAltName=IP:127.0.0.1 -keyout " + base + ".key -out " + base +
                              ".crt >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl could not make a test certificate");
}

TEST(K8sWatcher, VerifiesTheServerWithTheCaFile) {
  TempDir dir;
  make_certificate(dir, "server");
  make_certificate(dir, "stranger");
  const std::string token = dir.file("token", "good-token");
  FakeApiServer server(dir.file("state.json", json{{"services", {named("s1")}}}.dump()),
                       {"--tls-cert", dir.path() + "/server.crt", "--tls-key", dir.path() + "/server.key"});
  ASSERT_TRUE(server.url().starts_with("https://"));

  Recorder trusting;
  Watcher good({server.url(), token, dir.path() + "/server.crt", ""}, trusting.callbacks(),
               fast_options({Kind::kService}));
  EXPECT_EQ(trusting.wait_for(1), (std::vector<std::string>{"list services s1"}));

  Recorder wary;
  Watcher bad({server.url(), token, dir.path() + "/stranger.crt", ""}, wary.callbacks(),
              fast_options({Kind::kService}));
  ASSERT_TRUE(eventually([&] { return bad.errors() >= 1; }));
  EXPECT_TRUE(wary.records().empty());
}

// ------------------------------------------------------------ in_cluster_config

std::map<std::string, std::string> fake_env;  // the environment the getenv below reads
const char* fake_getenv(const char* name) {
  const auto it = fake_env.find(name);
  return it == fake_env.end() ? nullptr : it->second.c_str();
}

TEST(K8sInClusterConfig, ReadsTheServiceEnvironmentAndAccountFiles) {
  TempDir dir;
  dir.file("token", "t");
  fake_env = {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}, {"NODE_NAME", "node-7"}};
  const auto config = in_cluster_config(fake_getenv, dir.path());
  ASSERT_TRUE(config);
  EXPECT_EQ(config->base_url, "https://10.0.0.1:443");
  EXPECT_EQ(config->token_file, dir.path() + "/token");
  EXPECT_EQ(config->ca_file, dir.path() + "/ca.crt");
  EXPECT_EQ(config->node_name, "node-7");
}

TEST(K8sInClusterConfig, BracketsAnIpv6Host) {
  TempDir dir;
  dir.file("token", "t");
  fake_env = {{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "6443"}};
  const auto config = in_cluster_config(fake_getenv, dir.path());
  ASSERT_TRUE(config);
  EXPECT_EQ(config->base_url, "https://[fd00::1]:6443");
  EXPECT_EQ(config->node_name, "");
}

TEST(K8sInClusterConfig, NoneOutsideAClusterOrWithoutAToken) {
  TempDir dir;
  fake_env = {};
  EXPECT_FALSE(in_cluster_config(fake_getenv, dir.path()));
  fake_env = {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}};
  EXPECT_FALSE(in_cluster_config(fake_getenv, dir.path()));
  fake_env = {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}};
  EXPECT_FALSE(in_cluster_config(fake_getenv, dir.path()));  // no token file
}

}  // namespace
}  // namespace spanwire::k8s
