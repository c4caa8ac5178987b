// addon.cc — the N-API binding over native/ataru_core.h. It only moves data
// across the boundary; policy (pools, queues, errors, rate limits) lives in
// src/runtime/. Per request: one promise, one submit, and one threadsafe-
// function call when the vCPU thread completes it (nothing per VM exit),
// unless run() waited for a short request itself (see kSpinWaitNs).
#include <napi.h>
#include <uv.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <memory>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <vector>

extern "C" {
#include "ataru_core.h"
#include "loader.h"
#include "probe.h"
}

// addon_packet.cc: raw-packet apps, over the same instance handles.
void InitPacket(Napi::Env env, Napi::Object exports);
ataru_instance *AtaruInstanceOf(const Napi::Value &v);

namespace {

// Outputs up to this size are copied into a V8-owned Buffer; larger ones are
// handed over as external memory (no second copy).
constexpr size_t kCopyLimit = 16 * 1024;

// A completion through the threadsafe function costs ~18 µs on kvm_pvm
// (uv_async_send, then waking the event loop's thread from epoll_wait), about
// as much again as a whole short request. While a request is the only one in
// flight (nothing else can be waiting for the event loop meanwhile), run()
// avoids that wake-up when the instance's recent requests say it pays:
//  - predicted within kSpinWaitNs: run() waits for the result on the JS
//    thread, at most kSpinWaitNs, and resolves the promise before returning;
//  - predicted within kPollMaxNs: the event loop polls until the result is
//    in (an active idle handle makes its epoll_wait return at once); it
//    keeps serving everything else meanwhile.
// A wait that times out, or a polled request that took over twice its
// prediction, is a miss: after k misses in a row the instance's next
// 2^k - 1 requests neither wait nor poll (up to kWaitSkipMax). That is the
// self-limit for oversubscribed cores, where the waiting thread would only
// steal the vCPU thread's CPU.
constexpr uint64_t kSpinWaitNs = 50000;
constexpr double kPollMaxNs = 400000;
constexpr uint32_t kWaitSkipMax = 1023;

uint64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

const napi_type_tag kHandleTag = {0x41544152555f494eull, 0x5354414e43455f31ull};

struct AddonData;

// One native instance as JS sees it. Freed only through a kFree message on
// the threadsafe function: it is queued after every log line the instance
// sent, so no queued message can outlive its handle.
struct Handle {
  AddonData *data = nullptr;
  ataru_instance *inst = nullptr;
  std::vector<uint32_t> sinks;          // nodes without children, in order
  Napi::FunctionReference on_log;
  uint32_t inflight = 0;                // main thread only
  bool destroy_requested = false;
  bool destroy_started = false;
  bool js_gone = false;                 // the JS External was collected
  std::vector<Napi::Promise::Deferred> destroy_waiters;
  // how run() waits (kSpinWaitNs), main thread only
  double run_ns_avg = 0;                // of this instance's requests
  uint32_t wait_skip = 0;               // requests left that neither wait nor poll
  uint32_t wait_misses = 0;             // misses in a row
  std::atomic<uint32_t> logs{0};        // log lines posted (vCPU threads)
};

// Who completes a request: the threadsafe function, or run() waiting for it.
enum SyncState : int { kAsync, kSpinning, kDoneSync };

enum class MsgKind { kDone, kLog, kFree };

// A message from a vCPU thread (or the main thread, kFree) to JS.
struct Msg {
  Msg(MsgKind k, Handle *handle) : kind(k), h(handle) {}
  MsgKind kind;
  Handle *h;
  // kDone
  Napi::Promise::Deferred *deferred = nullptr;
  std::atomic<int> sync{kAsync};
  bool polled = false;                  // the event loop polls for it
  uint32_t logs_at_submit = 0;
  uint32_t status = 0, failed_node = ATARU_NO_NODE, num_nodes = 0, workers_used = 0, not_run = 0;
  std::string message;                  // also the log text
  uint8_t *output = nullptr;            // malloc'd copy
  size_t output_len = 0;
  int64_t node_ret[ATARU_MAX_NODES];
  uint64_t node_ns[ATARU_MAX_NODES];
  uint64_t dag_ns = 0, run_ns = 0;
  // kLog
  uint32_t node = 0;
  bool has_line = false;   // else only a count of dropped lines
  uint32_t dropped = 0;    // lines the core dropped just before this one
};

void CallJs(Napi::Env env, Napi::Function, AddonData *data, Msg *msg);
using Tsfn = Napi::TypedThreadSafeFunction<AddonData, Msg, CallJs>;

struct AddonData {
  Tsfn tsfn;
  uint32_t inflight = 0;                // all instances; the TSFN holds the loop only while > 0
  // MakeResult's factory and the scratch it reads (main thread only)
  Napi::FunctionReference make_result;
  Napi::ObjectReference result_nums_ref, result_bytes_ref;
  double *result_nums = nullptr;        // kResSlots numbers
  uint8_t *result_bytes = nullptr;      // kCopyLimit bytes
  uv_idle_t *poll = nullptr;            // active: the event loop polls (kPollMaxNs)
  uint32_t pollers = 0;                 // polled requests and creates in flight
};

// Yielding each round: the thread being waited for may share this CPU (see
// WaitForResult).
void StartPoll(AddonData *d) {
  if (d->pollers++ == 0) uv_idle_start(d->poll, [](uv_idle_t *) { sched_yield(); });
}

void StopPoll(AddonData *d) {
  if (--d->pollers == 0) uv_idle_stop(d->poll);
}

void Post(Handle *h, Msg *m) {
  if (h->data->tsfn.NonBlockingCall(m) != napi_ok) {
    // Only while the environment shuts down: nobody is left to tell.
    std::free(m->output);
    delete m;
  }
}

// ---- callbacks from the core (vCPU threads) ----

extern "C" void OnDone(void *ctx, ataru_result *res) {
  Msg *m = static_cast<Msg *>(ctx);
  m->status = res->status;
  m->failed_node = res->failed_node;
  m->num_nodes = res->num_nodes > ATARU_MAX_NODES ? ATARU_MAX_NODES : res->num_nodes;
  m->workers_used = res->workers_used;
  m->not_run = res->not_run;
  if (res->status != ATARU_STATUS_OK)
    m->message.assign(res->message, strnlen(res->message, sizeof res->message));
  if (res->output_len) {
    m->output = static_cast<uint8_t *>(std::malloc(res->output_len));
    if (m->output) {
      std::memcpy(m->output, res->output, res->output_len);
      m->output_len = res->output_len;
    } else if (m->status == ATARU_STATUS_OK) {
      // Never an empty "OK": the reply says what happened.
      m->status = ATARU_STATUS_INTERNAL;
      m->message = "out of memory for the output (" + std::to_string(res->output_len) + " bytes)";
    }
  }
  std::memcpy(m->node_ret, res->node_ret, m->num_nodes * sizeof(int64_t));
  std::memcpy(m->node_ns, res->node_ns, m->num_nodes * sizeof(uint64_t));
  m->dag_ns = res->dag_ns;
  m->run_ns = res->run_ns;
  // Log lines of this request went through the threadsafe function: the
  // result must follow them there.
  int want = m->h->logs.load(std::memory_order_relaxed) == m->logs_at_submit ? kDoneSync : kAsync;
  int spinning = kSpinning;
  if (m->sync.compare_exchange_strong(spinning, want, std::memory_order_acq_rel) && want == kDoneSync)
    return;  // run() is waiting and completes it
  Post(m->h, m);
}

extern "C" void OnLog(void *ctx, uint32_t node, const char *text, size_t len, uint32_t dropped) {
  Handle *h = static_cast<Handle *>(ctx);
  h->logs.fetch_add(1, std::memory_order_relaxed);
  Msg *m = new Msg(MsgKind::kLog, h);
  m->node = node;
  m->has_line = text != nullptr;
  m->dropped = dropped;
  if (text) m->message.assign(text, len > ATARU_LOG_MAX ? ATARU_LOG_MAX : len);
  Post(h, m);
}

// ---- main thread ----

void Hold(AddonData *d, Napi::Env env) {
  if (d->inflight++ == 0) d->tsfn.Ref(env);
}

void Unhold(AddonData *d, Napi::Env env) {
  if (--d->inflight == 0) d->tsfn.Unref(env);
}

void PostFree(Handle *h) { Post(h, new Msg(MsgKind::kFree, h)); }

class DestroyWorker : public Napi::AsyncWorker {
 public:
  DestroyWorker(Napi::Env env, Handle *h) : Napi::AsyncWorker(env, "ataru.destroy"), h_(h) {}
  void Execute() override { ataru_instance_destroy(h_->inst); }
  void OnOK() override {
    h_->inst = nullptr;
    for (auto &d : h_->destroy_waiters) d.Resolve(Env().Undefined());
    h_->destroy_waiters.clear();
    h_->on_log.Reset();
    if (h_->js_gone) PostFree(h_);
  }

 private:
  Handle *h_;
};

void StartDestroy(Napi::Env env, Handle *h) {
  h->destroy_started = true;
  (new DestroyWorker(env, h))->Queue();
}

// The result object is built by a JS function (native.ts registers it with
// setResultFactory): creating it property by property through N-API costs
// ~3.4 µs, more than a tenth of a whole request. Complete fills the numbers
// into a Float64Array and small outputs into a byte scratch, both shared
// with JS and read by the factory synchronously, then calls it once.
enum ResultSlot : uint32_t {
  kResStatus, kResFailedNode, kResWorkersUsed, kResNotRun, kResDagNs, kResRunNs, kResNumNodes, kResNumSinks,
  kResOutputLen, kResSinkLengths, kResNodeRet = kResSinkLengths + ATARU_MAX_NODES,
  kResNodeNs = kResNodeRet + ATARU_MAX_NODES, kResSlots = kResNodeNs + ATARU_MAX_NODES
};

Napi::Value MakeResult(Napi::Env env, AddonData *data, Handle *h, Msg *m) {
  double *s = data->result_nums;
  s[kResStatus] = m->status;
  s[kResFailedNode] = m->failed_node;
  s[kResWorkersUsed] = m->workers_used;
  s[kResNotRun] = m->not_run;
  s[kResDagNs] = static_cast<double>(m->dag_ns);
  s[kResRunNs] = static_cast<double>(m->run_ns);
  s[kResNumNodes] = m->num_nodes;
  s[kResNumSinks] = static_cast<double>(h->sinks.size());
  s[kResOutputLen] = static_cast<double>(m->output_len);
  for (uint32_t i = 0; i < h->sinks.size(); i++) {
    uint32_t k = h->sinks[i];
    int64_t len = (m->status == ATARU_STATUS_OK && k < m->num_nodes && m->node_ret[k] > 0) ? m->node_ret[k] : 0;
    s[kResSinkLengths + i] = static_cast<double>(len);
  }
  for (uint32_t k = 0; k < m->num_nodes; k++) {
    s[kResNodeRet + k] = static_cast<double>(m->node_ret[k]);
    s[kResNodeNs + k] = static_cast<double>(m->node_ns[k]);
  }
  Napi::Value out = env.Undefined();  // the factory copies it from result_bytes
  if (m->output_len > kCopyLimit) {
    out = Napi::Buffer<uint8_t>::New(env, m->output, m->output_len,
                                     [](Napi::Env, uint8_t *p) { std::free(p); });
    m->output = nullptr;
  } else if (m->output_len) {
    std::memcpy(data->result_bytes, m->output, m->output_len);
  }
  Napi::Value message = m->message.empty() ? env.Undefined() : Napi::String::New(env, m->message);
  return data->make_result.Call({out, message});
}

void WaitMissed(Handle *h);

// Resolves a finished request's promise and frees the message (main thread).
void Complete(Napi::Env env, AddonData *data, Msg *m) {
  Handle *h = m->h;
  if (m->polled) {
    StopPoll(data);
    if (m->run_ns > 2 * h->run_ns_avg) WaitMissed(h);
    else h->wait_misses = 0;
  }
  if (m->status == ATARU_STATUS_OK) {
    // Clamped: one slow outlier must not stop the waits for long.
    double ns = std::min(static_cast<double>(m->run_ns), 1.5 * kPollMaxNs);
    h->run_ns_avg = h->run_ns_avg ? 0.9 * h->run_ns_avg + 0.1 * ns : ns;
  }
  {
    Napi::HandleScope scope(env);
    Napi::Value r = MakeResult(env, data, h, m);
    if (env.IsExceptionPending()) m->deferred->Reject(env.GetAndClearPendingException().Value());
    else m->deferred->Resolve(r);
  }
  delete m->deferred;
  h->inflight--;
  Unhold(data, env);
  if (h->inflight == 0 && (h->destroy_requested || h->js_gone) && !h->destroy_started)
    StartDestroy(env, h);
  std::free(m->output);
  delete m;
}

void CallJs(Napi::Env env, Napi::Function, AddonData *data, Msg *m) {
  if (env == nullptr) {  // environment torn down: just free
    if (m->kind == MsgKind::kDone) delete m->deferred;
    std::free(m->output);
    delete m;
    return;
  }
  Handle *h = m->h;
  switch (m->kind) {
    case MsgKind::kDone:
      Complete(env, data, m);
      return;
    case MsgKind::kLog:
      if (!h->on_log.IsEmpty()) {
        Napi::HandleScope scope(env);
        h->on_log.Call({Napi::Number::New(env, m->node),
                        m->has_line ? Napi::String::New(env, m->message) : env.Undefined(),
                        Napi::Number::New(env, m->dropped)});
      }
      break;
    case MsgKind::kFree:
      delete h;
      break;
  }
  std::free(m->output);
  delete m;
}

Napi::Value Fail(Napi::Env env, const char *what) {
  Napi::TypeError::New(env, what).ThrowAsJavaScriptException();
  return env.Undefined();
}

Handle *GetHandle(const Napi::Value &v) {
  if (!v.IsExternal()) return nullptr;
  Napi::External<Handle> ext = v.As<Napi::External<Handle>>();
  if (!ext.CheckTypeTag(&kHandleTag)) return nullptr;
  return ext.Data();
}

// The spec, copied out of JS so the worker thread owns everything it reads.
struct OwnedSpec {
  std::string runtime_path, shared_path;
  std::vector<std::string> names, paths;
  std::vector<ataru_node_spec> nodes;
  std::vector<uint16_t> edges;
  ataru_app_spec spec{};
  // spec.tpl is retained while the spec lives: releaseTemplate() may come
  // while a create from it runs on a worker thread.
  ~OwnedSpec() { ataru_template_release(spec.tpl); }
};

const napi_type_tag kTemplateTag = {0x41544152555f5445ull, 0x4d504c4154455f31ull};

// A template as JS sees it: released by releaseTemplate() or, as a
// backstop, when collected. Instances hold references of their own.
struct TemplateHandle {
  ataru_template *tpl = nullptr;
};

TemplateHandle *GetTemplate(const Napi::Value &v) {
  if (!v.IsExternal()) return nullptr;
  auto ext = v.As<Napi::External<TemplateHandle>>();
  if (!ext.CheckTypeTag(&kTemplateTag)) return nullptr;
  return ext.Data();
}

// The spec reader: every key is required (a missing or mistyped key is a
// bug in the caller, not a default); `what` names the key in the error.
struct SpecReader {
  Napi::Env env;
  std::string error;  // the first problem, empty when none

  double Number(const Napi::Object &o, const char *key, const std::string &where) {
    Napi::Value v = o.Get(key);
    if (!v.IsNumber()) {
      Problem(where + key + " must be a number");
      return 0;
    }
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= 0 && d <= 9007199254740991.0)) Problem(where + key + " must be a non-negative integer");
    return d;
  }
  std::string String(const Napi::Object &o, const char *key, const std::string &where) {
    Napi::Value v = o.Get(key);
    if (!v.IsString()) {
      Problem(where + key + " must be a string");
      return std::string();
    }
    return v.As<Napi::String>().Utf8Value();
  }
  bool Boolean(const Napi::Object &o, const char *key, const std::string &where) {
    Napi::Value v = o.Get(key);
    if (!v.IsBoolean()) {
      Problem(where + key + " must be a boolean");
      return false;
    }
    return v.As<Napi::Boolean>().Value();
  }
  void Problem(const std::string &what) {
    if (error.empty()) error = "createInstance: spec." + what;
  }
};

const char *CreateErrorName(uint32_t code) {
  switch (code) {
#define ATARU_X(name, val, text) \
  case val:                      \
    return #name;
    ATARU_CREATE_ERROR_LIST(ATARU_X)
#undef ATARU_X
  }
  return "INTERNAL";
}

class CreateWorker : public Napi::AsyncWorker {
 public:
  CreateWorker(Napi::Env env, OwnedSpec *spec, Handle *h)
      : Napi::AsyncWorker(env, "ataru.create"), spec_(spec), h_(h), deferred_(Napi::Promise::Deferred::New(env)) {}
  ~CreateWorker() override { delete spec_; }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    h_->inst = ataru_instance_create(&spec_->spec, &err_);
    if (!h_->inst) {
      SetError(err_.message[0] ? err_.message : "instance creation failed");
      return;
    }
    uint16_t sinks[ATARU_MAX_NODES];  // the core's, so they are computed once
    uint32_t n = ataru_instance_sinks(h_->inst, sinks);
    h_->sinks.assign(sinks, sinks + n);
  }
  void OnOK() override {
    StopPoll(h_->data);
    Napi::External<Handle> ext = Napi::External<Handle>::New(Env(), h_, [](Napi::Env env, Handle *h) {
      // Collected without destroy(): free it now (a backstop against leaks).
      h->js_gone = true;
      if (h->inst && h->inflight == 0 && !h->destroy_started) {
        ataru_instance_destroy(h->inst);
        h->inst = nullptr;
        PostFree(h);
      } else if (!h->inst && h->destroy_started) {
        PostFree(h);
      }
      (void)env;
    });
    ext.TypeTag(&kHandleTag);
    deferred_.Resolve(ext);
  }
  void OnError(const Napi::Error &e) override {
    StopPoll(h_->data);
    // No instance exists, so the core never calls log_fn for it again.
    PostFree(h_);
    // The kind of failure crosses as a code (ATARU_CREATE_*), never to be
    // guessed from the message; file names the image being loaded.
    Napi::Error err = e;
    err.Set("code", Napi::String::New(Env(), CreateErrorName(err_.code)));
    if (err_.file[0]) err.Set("file", Napi::String::New(Env(), err_.file));
    deferred_.Reject(err.Value());
  }

 private:
  ataru_error err_{};
  OwnedSpec *spec_;
  Handle *h_;
  Napi::Promise::Deferred deferred_;
};

// createInstance({ runtimePath, sharedPath?, nodes: [{ name, path, inpOff,
//   outOff, timeoutUs }], edges: number[] (from,to pairs), shmSize,
//   stackSize, vcpus, timeoutUs, keepState, onLog?(node, text) }) -> Promise<handle>
// Every key but sharedPath and onLog is required. A rejected create has
// .code (BAD_SPEC, BAD_ELF, KVM_UNAVAILABLE, NO_RESOURCES, INTERNAL) and,
// for BAD_ELF, .file.
// Reads spec (the createInstance form) into an OwnedSpec, or throws (a
// TypeError naming the key) and returns nullptr. fn names the caller.
std::unique_ptr<OwnedSpec> ReadSpec(Napi::Env env, const Napi::Value &v, const char *fn) {
  std::string f(fn);
  auto fail = [&](const std::string &what) {
    Napi::TypeError::New(env, f + ": " + what).ThrowAsJavaScriptException();
    return nullptr;
  };
  if (!v.IsObject()) return fail("spec object expected");
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value nodes_v = o.Get("nodes");
  if (!nodes_v.IsArray()) return fail("spec.nodes must be an array");
  Napi::Array nodes = nodes_v.As<Napi::Array>();
  uint32_t n = nodes.Length();
  if (n == 0 || n > ATARU_MAX_NODES) return fail("bad number of nodes");

  SpecReader rd{env, std::string()};
  auto s = std::make_unique<OwnedSpec>();
  s->runtime_path = rd.String(o, "runtimePath", "");
  Napi::Value shared = o.Get("sharedPath");
  if (!shared.IsUndefined() && !shared.IsNull()) s->shared_path = rd.String(o, "sharedPath", "");
  s->names.resize(n);
  s->paths.resize(n);
  s->nodes.resize(n);
  for (uint32_t k = 0; k < n; k++) {
    Napi::Value nv = nodes.Get(k);
    std::string where = "nodes[" + std::to_string(k) + "].";
    if (!nv.IsObject()) return fail("spec." + where.substr(0, where.size() - 1) + " must be an object");
    Napi::Object no = nv.As<Napi::Object>();
    s->names[k] = rd.String(no, "name", where);
    s->paths[k] = rd.String(no, "path", where);
    s->nodes[k].inp_off = static_cast<uint64_t>(rd.Number(no, "inpOff", where));
    s->nodes[k].out_off = static_cast<uint64_t>(rd.Number(no, "outOff", where));
    s->nodes[k].timeout_us = static_cast<uint64_t>(rd.Number(no, "timeoutUs", where));
  }
  for (uint32_t k = 0; k < n; k++) {  // after the vectors stopped growing
    s->nodes[k].name = s->names[k].c_str();
    s->nodes[k].path = s->paths[k].c_str();
  }
  Napi::Value edges_v = o.Get("edges");
  if (!edges_v.IsArray()) return fail("spec.edges must be an array");
  Napi::Array edges = edges_v.As<Napi::Array>();
  if (edges.Length() % 2 != 0 || edges.Length() / 2 > ATARU_MAX_EDGES)
    return fail("spec.edges must hold (from, to) pairs");
  for (uint32_t i = 0; i < edges.Length(); i++) {
    Napi::Value e = edges.Get(i);
    double d = e.IsNumber() ? e.As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d < n)) return fail("edge endpoint out of range");
    s->edges.push_back(static_cast<uint16_t>(d));
  }
  ataru_app_spec &a = s->spec;
  a.shm_size = static_cast<uint64_t>(rd.Number(o, "shmSize", ""));
  a.stack_size = static_cast<uint64_t>(rd.Number(o, "stackSize", ""));
  a.vcpus = static_cast<uint32_t>(rd.Number(o, "vcpus", ""));
  a.timeout_us = static_cast<uint64_t>(rd.Number(o, "timeoutUs", ""));
  a.keep_state = rd.Boolean(o, "keepState", "") ? 1 : 0;
  Napi::Value init_timeout = o.Get("initTimeoutUs");
  if (!init_timeout.IsUndefined()) a.init_timeout_us = static_cast<uint64_t>(rd.Number(o, "initTimeoutUs", ""));
  if (!rd.error.empty()) {
    rd.error.replace(0, std::strlen("createInstance"), f);
    Napi::TypeError::New(env, rd.error).ThrowAsJavaScriptException();
    return nullptr;
  }
  Napi::Value tpl = o.Get("template");
  if (!tpl.IsUndefined() && !tpl.IsNull()) {
    TemplateHandle *t = GetTemplate(tpl);
    if (!t || !t->tpl) return fail("spec.template must be a live template handle");
    ataru_template_retain(t->tpl);
    a.tpl = t->tpl;
  }
  a.runtime_path = s->runtime_path.c_str();
  a.shared_path = s->shared_path.empty() ? nullptr : s->shared_path.c_str();
  a.num_nodes = n;
  a.nodes = s->nodes.data();
  a.num_edges = static_cast<uint32_t>(s->edges.size() / 2);
  a.edges = s->edges.data();
  return s;
}

// A Handle that only carries log lines (a template's init hooks log
// through it); freed by PostFree after the last line.
Handle *NewHandle(Napi::Env env, const Napi::Value &spec) {
  auto *h = new Handle();
  h->data = env.GetInstanceData<AddonData>();
  Napi::Value on_log = spec.As<Napi::Object>().Get("onLog");
  if (on_log.IsFunction()) h->on_log = Napi::Persistent(on_log.As<Napi::Function>());
  return h;
}

// createInstance({ runtimePath, sharedPath?, nodes: [{ name, path, inpOff,
//   outOff, timeoutUs }], edges: number[] (from,to pairs), shmSize,
//   stackSize, vcpus, timeoutUs, keepState, initTimeoutUs?, template?,
//   onLog?(node, text) }) -> Promise<handle>
// Every key but sharedPath, initTimeoutUs, template and onLog is required.
// With template (createTemplate/openTemplate of the same spec) the instance
// maps its memory copy-on-write instead of loading. A rejected create has
// .code (an ATARU_CREATE_* name) and, for BAD_ELF, .file.
Napi::Value CreateInstance(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  std::unique_ptr<OwnedSpec> s = ReadSpec(env, info[0], "createInstance");
  if (!s) return env.Undefined();
  Handle *h = NewHandle(env, info[0]);
  s->spec.log_fn = OnLog;
  s->spec.log_ctx = h;
  auto *w = new CreateWorker(env, s.release(), h);
  Napi::Promise p = w->Promise();
  w->Queue();
  // A cold start is on someone's latency path: poll for its end too (kPollMaxNs).
  StartPoll(h->data);
  return p;
}

Napi::Object TemplateInfo(Napi::Env env, const ataru_template *t) {
  ataru_template_info ti;
  ataru_template_describe(t, &ti);
  Napi::Object r = Napi::Object::New(env);
  r.Set("guestBytes", Napi::Number::New(env, static_cast<double>(ti.guest_bytes)));
  r.Set("dataBytes", Napi::Number::New(env, static_cast<double>(ti.data_bytes)));
  r.Set("inits", Napi::Number::New(env, ti.inits));
  r.Set("instances", Napi::Number::New(env, ti.instances));
  r.Set("initNs", Napi::Number::New(env, static_cast<double>(ti.init_ns)));
  r.Set("buildNs", Napi::Number::New(env, static_cast<double>(ti.build_ns)));
  r.Set("opened", Napi::Boolean::New(env, ti.opened != 0));
  return r;
}

// Builds (path empty) or opens (path, key) a template off the JS thread.
class TemplateWorker : public Napi::AsyncWorker {
 public:
  TemplateWorker(Napi::Env env, OwnedSpec *spec, Handle *logs, std::string path, std::string key)
      : Napi::AsyncWorker(env, "ataru.template"), spec_(spec), logs_(logs), path_(std::move(path)),
        key_(std::move(key)), deferred_(Napi::Promise::Deferred::New(env)) {}
  ~TemplateWorker() override { delete spec_; }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    tpl_ = path_.empty() ? ataru_template_create(&spec_->spec, &err_)
                         : ataru_template_open(&spec_->spec, path_.c_str(), key_.c_str(), &err_);
    if (!tpl_) SetError(err_.message[0] ? err_.message : "template creation failed");
  }
  void OnOK() override {
    PostFree(logs_);  // after every init log line
    auto *th = new TemplateHandle{tpl_};
    auto ext = Napi::External<TemplateHandle>::New(Env(), th, [](Napi::Env, TemplateHandle *t) {
      ataru_template_release(t->tpl);
      delete t;
    });
    ext.TypeTag(&kTemplateTag);
    deferred_.Resolve(ext);
  }
  void OnError(const Napi::Error &e) override {
    PostFree(logs_);
    Napi::Error err = e;
    err.Set("code", Napi::String::New(Env(), CreateErrorName(err_.code)));
    if (err_.file[0]) err.Set("file", Napi::String::New(Env(), err_.file));
    if (err_.code == ATARU_CREATE_INIT_FAILED && err_.node != ATARU_NO_NODE)
      err.Set("node", Napi::Number::New(Env(), err_.node));
    deferred_.Reject(err.Value());
  }

 private:
  ataru_error err_{};
  ataru_template *tpl_ = nullptr;
  OwnedSpec *spec_;
  Handle *logs_;
  std::string path_, key_;
  Napi::Promise::Deferred deferred_;
};

// createTemplate(spec) -> Promise<template>: load, link and run the init
// hooks once (onLog gets their lines). openTemplate(spec, path, key) ->
// Promise<template>: a stored one (code BAD_TEMPLATE when it does not match).
Napi::Value StartTemplate(const Napi::CallbackInfo &info, bool open) {
  Napi::Env env = info.Env();
  const char *fn = open ? "openTemplate" : "createTemplate";
  std::unique_ptr<OwnedSpec> s = ReadSpec(env, info[0], fn);
  if (!s) return env.Undefined();
  if (s->spec.tpl) return Fail(env, (std::string(fn) + ": spec.template must not be set").c_str());
  std::string path, key;
  if (open) {
    if (!info[1].IsString() || !info[2].IsString()) return Fail(env, "openTemplate: path and key strings expected");
    path = info[1].As<Napi::String>().Utf8Value();
    key = info[2].As<Napi::String>().Utf8Value();
    if (path.empty()) return Fail(env, "openTemplate: empty path");
  }
  Handle *logs = NewHandle(env, info[0]);
  s->spec.log_fn = OnLog;
  s->spec.log_ctx = logs;
  auto *w = new TemplateWorker(env, s.release(), logs, path, key);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}
Napi::Value CreateTemplate(const Napi::CallbackInfo &info) { return StartTemplate(info, false); }
Napi::Value OpenTemplate(const Napi::CallbackInfo &info) { return StartTemplate(info, true); }

// saveTemplate(template, path, key) -> Promise<void>: stores it off the JS
// thread (a write of its non-zero pages and an fsync).
class SaveWorker : public Napi::AsyncWorker {
 public:
  SaveWorker(Napi::Env env, ataru_template *t, std::string path, std::string key)
      : Napi::AsyncWorker(env, "ataru.saveTemplate"), t_(t), path_(std::move(path)), key_(std::move(key)),
        deferred_(Napi::Promise::Deferred::New(env)) {
    ataru_template_retain(t_);
  }
  ~SaveWorker() override { ataru_template_release(t_); }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    if (ataru_template_save(t_, path_.c_str(), key_.c_str(), &err_) < 0) SetError(err_.message);
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error &e) override {
    Napi::Error err = e;
    err.Set("code", Napi::String::New(Env(), CreateErrorName(err_.code)));
    deferred_.Reject(err.Value());
  }

 private:
  ataru_template *t_;
  std::string path_, key_;
  ataru_error err_{};
  Napi::Promise::Deferred deferred_;
};

Napi::Value SaveTemplate(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  TemplateHandle *t = GetTemplate(info[0]);
  if (!t || !t->tpl) return Fail(env, "saveTemplate: not a live template");
  if (!info[1].IsString() || !info[2].IsString()) return Fail(env, "saveTemplate: path and key strings expected");
  auto *w = new SaveWorker(env, t->tpl, info[1].As<Napi::String>().Utf8Value(), info[2].As<Napi::String>().Utf8Value());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// releaseTemplate(template): drops JS's reference (instances keep theirs).
Napi::Value ReleaseTemplate(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  TemplateHandle *t = GetTemplate(info[0]);
  if (!t) return Fail(env, "releaseTemplate: not a template");
  ataru_template_release(t->tpl);
  t->tpl = nullptr;
  return env.Undefined();
}

Napi::Value TemplateInfoJs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  TemplateHandle *t = GetTemplate(info[0]);
  if (!t || !t->tpl) return Fail(env, "templateInfo: not a live template");
  return TemplateInfo(env, t->tpl);
}

enum class Wait { kNone, kSpin, kPoll };

Wait ChooseWait(Handle *h) {
  if (h->data->inflight != 0 || !h->run_ns_avg || h->run_ns_avg > kPollMaxNs) return Wait::kNone;
  if (h->wait_skip) {
    h->wait_skip--;
    return Wait::kNone;
  }
  return h->run_ns_avg <= kSpinWaitNs ? Wait::kSpin : Wait::kPoll;
}

void WaitMissed(Handle *h) {
  h->wait_misses = std::min(h->wait_misses + 1, 10u);
  h->wait_skip = std::min((1u << h->wait_misses) - 1, kWaitSkipMax);
}

// Waits until kSpinWaitNs after t0 for the vCPU thread to finish m; true if
// it did (m is then run()'s to complete), false if m went to the threadsafe
// function.
bool WaitForResult(Msg *m, uint64_t t0) {
  for (;;) {
    int s = m->sync.load(std::memory_order_acquire);
    if (s != kSpinning) return s == kDoneSync;
    if (NowNs() - t0 > kSpinWaitNs) {
      int spinning = kSpinning;
      if (m->sync.compare_exchange_strong(spinning, kAsync, std::memory_order_acq_rel)) return false;
      return spinning == kDoneSync;
    }
    // Not a pause: the submit may have woken the vCPU thread onto this
    // thread's CPU (wake-affine placement), where it runs only if we yield.
    sched_yield();
  }
}

// run(handle, input, nodeIdOverride?: bigint) -> Promise<result>
// Why submit refused a request (its status goes with it).
const char *SubmitRefusal(int status) {
  switch (status) {
    case ATARU_STATUS_BUSY: return "instance busy";
    case ATARU_STATUS_BAD_REQUEST: return "input larger than the shared region";
    case ATARU_STATUS_CLOSED: return "the instance is being destroyed";
    default: return "the instance is out of service: its memory reset failed";
  }
}

Napi::Value Run(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Handle *h = GetHandle(info[0]);
  if (!h) return Fail(env, "run: not an instance handle");
  if (!h->inst || h->destroy_requested || h->js_gone) return Fail(env, "run: instance destroyed");
  if (!info[1].IsTypedArray()) return Fail(env, "run: input must be a Buffer");
  if (h->data->make_result.IsEmpty()) return Fail(env, "run: setResultFactory was not called");
  Napi::Uint8Array input = info[1].As<Napi::Uint8Array>();
  uint64_t node_id = ATARU_NODE_ID_DEFAULT;
  if (info.Length() > 2 && info[2].IsBigInt()) {
    bool lossless = false;
    node_id = info[2].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) return Fail(env, "run: nodeIdOverride must fit in 64 bits unsigned");
  }
  auto *deferred = new Napi::Promise::Deferred(env);
  Napi::Promise p = deferred->Promise();
  Msg *m = new Msg(MsgKind::kDone, h);
  m->deferred = deferred;
  Wait wait = ChooseWait(h);
  if (wait == Wait::kSpin) m->sync.store(kSpinning, std::memory_order_relaxed);
  m->logs_at_submit = h->logs.load(std::memory_order_relaxed);
  uint64_t t0 = NowNs();
  int status = ataru_instance_submit(h->inst, input.Data(), input.ByteLength(), node_id, OnDone, m);
  if (status != ATARU_STATUS_OK) {
    delete m;
    Napi::Error e = Napi::Error::New(env, SubmitRefusal(status));
    e.Set("status", Napi::Number::New(env, status));
    deferred->Reject(e.Value());
    delete deferred;
    return p;
  }
  h->inflight++;
  Hold(h->data, env);
  if (wait == Wait::kSpin) {
    if (WaitForResult(m, t0)) {
      h->wait_misses = 0;
      Complete(env, h->data, m);
    } else {
      WaitMissed(h);
    }
  } else if (wait == Wait::kPoll) {
    m->polled = true;  // set before the result can reach Complete on this thread
    StartPoll(h->data);
  }
  return p;
}

// destroy(handle) -> Promise<void>: after the in-flight requests complete.
Napi::Value Destroy(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Handle *h = GetHandle(info[0]);
  if (!h) return Fail(env, "destroy: not an instance handle");
  Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
  if (!h->inst) {
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  h->destroy_waiters.push_back(d);
  h->destroy_requested = true;
  if (h->inflight == 0 && !h->destroy_started) StartDestroy(env, h);
  return d.Promise();
}

Napi::Value Memory(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Handle *h = GetHandle(info[0]);
  if (!h || !h->inst) return Fail(env, "memory: no live instance");
  uint64_t priv = 0, pss = 0;
  ataru_instance_memory(h->inst, &priv, &pss);
  Napi::Object r = Napi::Object::New(env);
  r.Set("privateBytes", Napi::Number::New(env, static_cast<double>(priv)));
  r.Set("pssBytes", Napi::Number::New(env, static_cast<double>(pss)));
  return r;
}

Napi::Value ColdStartNs(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Handle *h = GetHandle(info[0]);
  if (!h || !h->inst) return Fail(env, "coldStartNs: no live instance");
  return Napi::Number::New(env, static_cast<double>(ataru_instance_create_ns(h->inst)));
}

class ExitFloorWorker : public Napi::AsyncWorker {
 public:
  ExitFloorWorker(Napi::Env env, Handle *h, uint32_t n)
      : Napi::AsyncWorker(env, "ataru.exitFloor"), h_(h), n_(n), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    if (ataru_instance_exit_floor(h_->inst, n_, &ns_) != 0) SetError("exit floor measurement failed");
  }
  void OnOK() override {
    Done();
    deferred_.Resolve(Napi::Number::New(Env(), static_cast<double>(ns_)));
  }
  void OnError(const Napi::Error &e) override {
    Done();
    deferred_.Reject(e.Value());
  }

 private:
  Handle *h_;
  uint32_t n_;
  uint64_t ns_ = 0;
  Napi::Promise::Deferred deferred_;

  void Done() {
    if (--h_->inflight == 0 && (h_->destroy_requested || h_->js_gone) && !h_->destroy_started)
      StartDestroy(Env(), h_);
  }
};

// exitFloor(handle, n) -> Promise<median ns>. Counts as in-flight work so
// destroy() waits for it.
Napi::Value ExitFloor(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Handle *h = GetHandle(info[0]);
  if (!h || !h->inst || h->destroy_requested) return Fail(env, "exitFloor: no live instance");
  uint32_t n = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 1000;
  auto *w = new ExitFloorWorker(env, h, n);
  Napi::Promise p = w->Promise();
  h->inflight++;
  w->Queue();
  return p;
}

// testHook(handle, flags) -> boolean: the core's test hooks (ataru_core.h),
// for failures a CPL3 function cannot cause. Right after create only.
Napi::Value TestHook(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Handle *h = GetHandle(info[0]);
  if (!h || !h->inst || h->inflight) return Fail(env, "testHook: no idle live instance");
  unsigned flags = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  return Napi::Boolean::New(env, ataru_instance_test_hook(h->inst, flags) == 0);
}

// setResultFactory(fn(output: Buffer | undefined, message: string | undefined)
//   -> result): fn builds each run() result from resultNumbers (layout in
// constants.resultLayout) and, when output is undefined, the first
// resultNumbers[OUTPUT_LEN] bytes of resultBytes. Called synchronously.
Napi::Value SetResultFactory(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) return Fail(env, "setResultFactory: function expected");
  env.GetInstanceData<AddonData>()->make_result = Napi::Persistent(info[0].As<Napi::Function>());
  return env.Undefined();
}

// validateElf(buf, kind) -> null | message
// The ELF kind named by a string of ElfKind (src/runtime/native.ts).
bool ElfKindOf(const std::string &kind, enum ataru_elf_kind *k) {
  if (kind == "runtime") *k = ATARU_ELF_RUNTIME;
  else if (kind == "shared") *k = ATARU_ELF_SHARED;
  else if (kind == "function") *k = ATARU_ELF_FUNCTION;
  else if (kind == "library") *k = ATARU_ELF_LIBRARY;
  else return false;
  return true;
}

Napi::Value ValidateElf(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || !info[1].IsString()) return Fail(env, "validateElf(buf, kind)");
  Napi::Uint8Array buf = info[0].As<Napi::Uint8Array>();
  enum ataru_elf_kind k;
  if (!ElfKindOf(info[1].As<Napi::String>().Utf8Value(), &k))
    return Fail(env, "validateElf: kind must be function, shared, library or runtime");
  char err[512] = "";
  if (ataru_elf_validate(buf.Data(), buf.ByteLength(), k, err, sizeof err) == 0) return env.Null();
  return Napi::String::New(env, err[0] ? err : "invalid ELF");
}

// elfNeeded(buf, kind): the DT_NEEDED names of a valid ELF, or a string
// saying what is wrong with it (as validateElf).
Napi::Value ElfNeeded(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || !info[1].IsString()) return Fail(env, "elfNeeded(buf, kind)");
  Napi::Uint8Array buf = info[0].As<Napi::Uint8Array>();
  enum ataru_elf_kind k;
  if (!ElfKindOf(info[1].As<Napi::String>().Utf8Value(), &k) || k == ATARU_ELF_RUNTIME)
    return Fail(env, "elfNeeded: kind must be function, shared or library");
  std::vector<std::string> names;
  char err[512] = "";
  auto each = [](const char *name, void *ctx) { static_cast<std::vector<std::string> *>(ctx)->push_back(name); };
  if (ataru_elf_needed(buf.Data(), buf.ByteLength(), k, each, &names, err, sizeof err) != 0)
    return Napi::String::New(env, err[0] ? err : "invalid ELF");
  Napi::Array out = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); i++) out.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  return out;
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  Napi::Object status = Napi::Object::New(env);
  Napi::Object status_text = Napi::Object::New(env);
#define ATARU_X(name, val, text)                     \
  status.Set(#name, Napi::Number::New(env, val));   \
  status_text.Set(#name, Napi::String::New(env, text));
  ATARU_STATUS_LIST(ATARU_X)
#undef ATARU_X
  c.Set("status", status);
  c.Set("statusText", status_text);
  Napi::Object create_error = Napi::Object::New(env);
#define ATARU_X(name, val, text) create_error.Set(#name, Napi::String::New(env, text));
  ATARU_CREATE_ERROR_LIST(ATARU_X)
#undef ATARU_X
  c.Set("createErrorText", create_error);
  Napi::Object log = Napi::Object::New(env);
  log.Set("rate", Napi::Number::New(env, ATARU_LOG_RATE));
  log.Set("burst", Napi::Number::New(env, ATARU_LOG_BURST));
  c.Set("log", log);

  Napi::Object node_state = Napi::Object::New(env);
  node_state.Set("WAITING", ATARU_NODE_WAITING);
  node_state.Set("RUNNING", ATARU_NODE_RUNNING);
  node_state.Set("DONE", ATARU_NODE_DONE);
  node_state.Set("FAILED", ATARU_NODE_FAILED);
  node_state.Set("SKIPPED", ATARU_NODE_SKIPPED);
  c.Set("nodeState", node_state);

  Napi::Object layout = Napi::Object::New(env);
#define ATARU_L(name) layout.Set(#name, Napi::Number::New(env, static_cast<double>(ATARU_##name)));
  ATARU_L(PAGE_SIZE) ATARU_L(NULL_GUARD_END) ATARU_L(SYSCALL_TRAP) ATARU_L(SYS_BASE) ATARU_L(SYS_SIZE)
  ATARU_L(MAILBOX_BASE) ATARU_L(MAILBOX_SIZE) ATARU_L(CONFIG_BASE) ATARU_L(CONFIG_SIZE)
  ATARU_L(RUNTIME_BASE) ATARU_L(RUNTIME_MAX) ATARU_L(STACKS_BASE) ATARU_L(STACK_SLOT)
  ATARU_L(STACK_DEFAULT) ATARU_L(SHM_BASE) ATARU_L(SHM_DEFAULT) ATARU_L(SHM_MAX)
  ATARU_L(SHARED_IMAGE_BASE) ATARU_L(IMAGES_BASE) ATARU_L(IMAGE_ALIGN) ATARU_L(MAX_VCPUS)
  ATARU_L(MAX_NODES) ATARU_L(MAX_EDGES) ATARU_L(LOG_MAX) ATARU_L(NO_NODE)
#undef ATARU_L
  layout.Set("NODE_ID_DEFAULT", Napi::BigInt::New(env, static_cast<uint64_t>(ATARU_NODE_ID_DEFAULT)));
  c.Set("layout", layout);

  Napi::Object test = Napi::Object::New(env);
  test.Set("BREAK_IDT", Napi::Number::New(env, ATARU_TEST_BREAK_IDT));
  test.Set("MAP_MMIO", Napi::Number::New(env, ATARU_TEST_MAP_MMIO));
  test.Set("FAIL_RESET", Napi::Number::New(env, ATARU_TEST_FAIL_RESET));
  test.Set("MMIO_GVA", Napi::Number::New(env, static_cast<double>(ATARU_TEST_MMIO_GVA)));
  c.Set("testHooks", test);

  Napi::Object res = Napi::Object::New(env);
#define ATARU_R(name, slot) res.Set(name, Napi::Number::New(env, slot));
  ATARU_R("STATUS", kResStatus) ATARU_R("FAILED_NODE", kResFailedNode)
  ATARU_R("WORKERS_USED", kResWorkersUsed) ATARU_R("NOT_RUN", kResNotRun) ATARU_R("DAG_NS", kResDagNs) ATARU_R("RUN_NS", kResRunNs)
  ATARU_R("NUM_NODES", kResNumNodes) ATARU_R("NUM_SINKS", kResNumSinks)
  ATARU_R("OUTPUT_LEN", kResOutputLen) ATARU_R("SINK_LENGTHS", kResSinkLengths)
  ATARU_R("NODE_RET", kResNodeRet) ATARU_R("NODE_NS", kResNodeNs)
#undef ATARU_R
  c.Set("resultLayout", res);
  return c;
}

// The TSC rate, for clients that turn TSC spans into ticks (the original's
// statistics line, field 3). A function: the first call may calibrate.
static Napi::Value TscHz(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), static_cast<double>(ataru_tsc_hz()));
}

// `ataru doctor`: KVM's API version and the capabilities the core uses
// (native/probe.c), or the errno of opening /dev/kvm. Self-contained.
static Napi::Value KvmProbe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  struct ataru_kvm_probe p;
  ataru_kvm_probe(&p);
  Napi::Object o = Napi::Object::New(env);
  o.Set("openErrno", Napi::Number::New(env, p.open_errno));
  o.Set("apiVersion", Napi::Number::New(env, p.api_version));
  o.Set("apiExpected", Napi::Number::New(env, p.api_expected));
  o.Set("vcpuMmapSize", Napi::Number::New(env, p.vcpu_mmap_size));
  Napi::Array caps = Napi::Array::New(env, p.num_caps);
  for (int i = 0; i < p.num_caps; i++) {
    Napi::Object c = Napi::Object::New(env);
    c.Set("name", Napi::String::New(env, p.caps[i].name));
    c.Set("required", Napi::Boolean::New(env, p.caps[i].required != 0));
    c.Set("value", Napi::Number::New(env, p.caps[i].value));
    caps.Set(static_cast<uint32_t>(i), c);
  }
  o.Set("caps", caps);
  if (p.cpu_known) {
    Napi::Object cpu = Napi::Object::New(env);
    cpu.Set("smep", Napi::Boolean::New(env, p.cpu.smep != 0));
    cpu.Set("smap", Napi::Boolean::New(env, p.cpu.smap != 0));
    cpu.Set("umip", Napi::Boolean::New(env, p.cpu.umip != 0));
    cpu.Set("xsave", Napi::Boolean::New(env, p.cpu.xsave != 0));
    cpu.Set("xcr0", Napi::Number::New(env, static_cast<double>(p.cpu.xcr0)));
    cpu.Set("brand", Napi::String::New(env, ATARU_CPUID_BRAND));
    o.Set("cpu", cpu);
  }
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto *data = new AddonData();
  data->tsfn = Tsfn::New(env, "ataru.completion", 0, 1, data);
  data->tsfn.Unref(env);
  env.SetInstanceData<AddonData>(data);
  uv_loop_t *loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  data->poll = new uv_idle_t;
  uv_idle_init(loop, data->poll);
  uv_unref(reinterpret_cast<uv_handle_t *>(data->poll));  // the threadsafe function holds the loop
  napi_add_env_cleanup_hook(
      env,
      [](void *arg) {
        uv_close(static_cast<uv_handle_t *>(arg), [](uv_handle_t *p) { delete reinterpret_cast<uv_idle_t *>(p); });
      },
      data->poll);
  Napi::ArrayBuffer nums = Napi::ArrayBuffer::New(env, kResSlots * sizeof(double));
  Napi::Buffer<uint8_t> bytes = Napi::Buffer<uint8_t>::New(env, kCopyLimit);
  data->result_nums = static_cast<double *>(nums.Data());
  data->result_bytes = bytes.Data();
  Napi::Float64Array nums_view = Napi::Float64Array::New(env, kResSlots, nums, 0);
  data->result_nums_ref = Napi::Persistent(nums_view.As<Napi::Object>());
  data->result_bytes_ref = Napi::Persistent(bytes.As<Napi::Object>());
  exports.Set("resultNumbers", nums_view);
  exports.Set("resultBytes", bytes);
  exports.Set("setResultFactory", Napi::Function::New(env, SetResultFactory, "setResultFactory"));
  exports.Set("createInstance", Napi::Function::New(env, CreateInstance, "createInstance"));
  exports.Set("run", Napi::Function::New(env, Run, "run"));
  exports.Set("createTemplate", Napi::Function::New(env, CreateTemplate, "createTemplate"));
  exports.Set("openTemplate", Napi::Function::New(env, OpenTemplate, "openTemplate"));
  exports.Set("saveTemplate", Napi::Function::New(env, SaveTemplate, "saveTemplate"));
  exports.Set("releaseTemplate", Napi::Function::New(env, ReleaseTemplate, "releaseTemplate"));
  exports.Set("templateInfo", Napi::Function::New(env, TemplateInfoJs, "templateInfo"));
  exports.Set("destroy", Napi::Function::New(env, Destroy, "destroy"));
  exports.Set("memory", Napi::Function::New(env, Memory, "memory"));
  exports.Set("coldStartNs", Napi::Function::New(env, ColdStartNs, "coldStartNs"));
  exports.Set("exitFloor", Napi::Function::New(env, ExitFloor, "exitFloor"));
  exports.Set("testHook", Napi::Function::New(env, TestHook, "testHook"));
  exports.Set("validateElf", Napi::Function::New(env, ValidateElf, "validateElf"));
  exports.Set("elfNeeded", Napi::Function::New(env, ElfNeeded, "elfNeeded"));
  exports.Set("tscHz", Napi::Function::New(env, TscHz, "tscHz"));
  exports.Set("kvmProbe", Napi::Function::New(env, KvmProbe, "kvmProbe"));
  exports.Set("constants", Constants(env));
  InitPacket(env, exports);
  return exports;
}

}  // namespace

// The core instance behind a live handle, or nullptr (for addon_packet.cc,
// whose caller keeps the handle alive until the packet path is closed).
ataru_instance *AtaruInstanceOf(const Napi::Value &v) {
  Handle *h = GetHandle(v);
  return h && !h->destroy_requested && !h->js_gone ? h->inst : nullptr;
}

NODE_API_MODULE(ataru, Init)
