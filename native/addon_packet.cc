// addon_packet.cc — the N-API side of raw-packet apps (native/ataru_packet.h).
// packetOpen hands the core's instances of a set of handles to a packet
// engine, which runs every frame in C; JavaScript hears only of each
// finished pktcnt window (one threadsafe-function call per window) and reads
// the counters when asked. The caller keeps the handles alive (no destroy)
// until packetClose has resolved.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

extern "C" {
#include "ataru_core.h"
#include "ataru_packet.h"
#include "packet_sock.h"
}

ataru_instance *AtaruInstanceOf(const Napi::Value &v);

namespace {

const napi_type_tag kEngineTag = {0x41544152555f5041ull, 0x434b45545f454e31ull};

struct Window {
  ataru_packet_window w;
};

void CallWindow(Napi::Env env, Napi::Function fn, std::nullptr_t *, Window *win);
using WindowTsfn = Napi::TypedThreadSafeFunction<std::nullptr_t, Window, CallWindow>;

struct Engine {
  ataru_packet_engine *e = nullptr;
  WindowTsfn tsfn;
  bool has_tsfn = false;
  bool closing = false;
  uint32_t num_nodes = 0;
};

Napi::Object Summary(Napi::Env env, const ataru_summary7 &s) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("min", s.min);
  o.Set("mean", s.mean);
  o.Set("max", s.max);
  o.Set("std", s.std);
  o.Set("skewness", s.skewness);
  o.Set("kurtosis", s.kurtosis);
  o.Set("total", s.total);
  return o;
}

void CallWindow(Napi::Env env, Napi::Function fn, std::nullptr_t *, Window *win) {
  if (env != nullptr && fn != nullptr) {
    const ataru_packet_window &w = win->w;
    Napi::Object o = Napi::Object::New(env);
    o.Set("packets", static_cast<double>(w.packets));
    o.Set("totalNs", static_cast<double>(w.total_ns));
    o.Set("lastBytes", static_cast<double>(w.last_bytes));
    o.Set("numNodes", w.num_nodes);
    o.Set("firstRunNs", static_cast<double>(w.first_run_ns));
    o.Set("firstDagNs", static_cast<double>(w.first_dag_ns));
    o.Set("warmDag", Summary(env, w.warm_dag));
    o.Set("dagNsTotal", static_cast<double>(w.dag_ns_total));
    o.Set("recvNs", static_cast<double>(w.recv_ns));
    Napi::Array nodes = Napi::Array::New(env, w.num_nodes);
    for (uint32_t k = 0; k < w.num_nodes; k++) nodes.Set(k, Summary(env, w.warm_node[k]));
    o.Set("warmNodes", nodes);
    fn.Call({o});
  }
  delete win;
}

extern "C" void OnWindow(void *ctx, const ataru_packet_window *w) {
  Engine *en = static_cast<Engine *>(ctx);
  Window *win = new Window{*w};
  if (en->tsfn.NonBlockingCall(win) != napi_ok) delete win;
}

Napi::Value Throw(Napi::Env env, const std::string &msg, const char *code, int err) {
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, code));
  if (err) e.Set("errno", Napi::Number::New(env, err));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

Engine *GetEngine(const Napi::Value &v) {
  if (!v.IsExternal()) return nullptr;
  auto ext = v.As<Napi::External<Engine>>();
  if (!ext.CheckTypeTag(&kEngineTag)) return nullptr;
  return ext.Data();
}

const char *OpenErrorKind(int code) {
  return code == EPERM || code == EACCES ? "NO_PRIVILEGE" : code == ENODEV ? "NO_INTERFACE" : "SYSTEM";
}

// packetProbe(iface): opens and closes a packet socket on iface, so a raw
// app learns of a missing privilege or interface before it builds any
// instance. Throws as packetOpen does.
Napi::Value PacketProbe(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) return Throw(env, "packetProbe(iface)", "BAD_ARGUMENT", 0);
  std::string iface = info[0].As<Napi::String>().Utf8Value();
  char msg[256] = "";
  int r = ataru_packet_probe(iface.c_str(), msg, sizeof msg);
  if (r < 0) return Throw(env, msg[0] ? msg : "packetProbe failed", OpenErrorKind(-r), -r);
  return env.Undefined();
}

// packetOpen({ iface, outIface?, port, msgLen, pktcnt, numNodes }, handles,
//   onWindow?(window)) -> engine. Throws with .code: NO_PRIVILEGE (EPERM,
// EACCES), NO_INTERFACE (ENODEV), BAD_ARGUMENT, or SYSTEM (.errno).
Napi::Value PacketOpen(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[1].IsArray()) return Throw(env, "packetOpen(config, handles, onWindow?)", "BAD_ARGUMENT", 0);
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Array hs = info[1].As<Napi::Array>();
  auto num = [&](const char *k) -> double {
    Napi::Value v = o.Get(k);
    return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  };
  if (!o.Get("iface").IsString()) return Throw(env, "packetOpen: config.iface must be a string", "BAD_ARGUMENT", 0);
  std::string iface = o.Get("iface").As<Napi::String>().Utf8Value();
  std::string out_iface = o.Get("outIface").IsString() ? o.Get("outIface").As<Napi::String>().Utf8Value() : "";
  double port = num("port"), msg_len = num("msgLen"), pktcnt = num("pktcnt"), nodes = num("numNodes");
  if (!(port >= 1 && port <= 65535) || !(msg_len >= 1 && msg_len <= 0xffffffffu) || !(pktcnt >= 0 && pktcnt <= 0xffffffffu) ||
      !(nodes >= 1 && nodes <= ATARU_MAX_NODES))
    return Throw(env, "packetOpen: port, msgLen, pktcnt or numNodes out of range", "BAD_ARGUMENT", 0);
  uint32_t n = hs.Length();
  if (n == 0 || n > ATARU_PACKET_MAX_INSTANCES) return Throw(env, "packetOpen: 1 to 64 instance handles expected", "BAD_ARGUMENT", 0);
  std::vector<ataru_instance *> insts(n);
  for (uint32_t i = 0; i < n; i++) {
    insts[i] = AtaruInstanceOf(hs.Get(i));
    if (!insts[i]) return Throw(env, "packetOpen: handle " + std::to_string(i) + " is not a live instance", "BAD_ARGUMENT", 0);
  }
  auto *en = new Engine();
  en->num_nodes = static_cast<uint32_t>(nodes);
  if (info[2].IsFunction()) {
    en->tsfn = WindowTsfn::New(env, info[2].As<Napi::Function>(), "ataru.packetWindow", 0, 1);
    en->tsfn.Unref(env);  // a serving raw app does not by itself keep the process alive
    en->has_tsfn = true;
  }
  ataru_packet_config cfg{};
  cfg.iface = iface.c_str();
  cfg.out_iface = out_iface.c_str();
  cfg.port = static_cast<uint16_t>(port);
  cfg.msg_len = static_cast<uint32_t>(msg_len);
  cfg.pktcnt = static_cast<uint32_t>(pktcnt);
  cfg.num_nodes = en->num_nodes;
  cfg.instances = insts.data();
  cfg.num_instances = n;
  cfg.window_fn = en->has_tsfn ? OnWindow : nullptr;
  cfg.window_ctx = en;
  ataru_error err{};
  en->e = ataru_packet_open(&cfg, &err);
  if (!en->e) {
    if (en->has_tsfn) en->tsfn.Release();
    delete en;
    int code = static_cast<int>(err.code);
    return Throw(env, err.message[0] ? err.message : "packetOpen failed", OpenErrorKind(code), code);
  }
  // Collected: freed once closed (an open engine is the caller's to close).
  Napi::External<Engine> ext = Napi::External<Engine>::New(env, en, [](Napi::Env, Engine *p) {
    if (!p->e) delete p;
  });
  ext.TypeTag(&kEngineTag);
  return ext;
}

const char *ErrorKindName(unsigned k) {
  switch (k) {
#define ATARU_X(name, val, text) \
  case val:                      \
    return #name;
    ATARU_STATUS_LIST(ATARU_X)
#undef ATARU_X
    case ATARU_PACKET_ERR_TOO_LONG: return "TOO_LONG";
    case ATARU_PACKET_ERR_TX: return "TRANSMIT";
  }
  return nullptr;
}

// packetCounters(engine) -> { received, filtered, transmitted, dropped,
//   errors: { KIND: n }, windows, batches, dag, run } (dag/run: µs summaries).
Napi::Value PacketCounters(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Engine *en = GetEngine(info[0]);
  if (!en || !en->e) return Throw(env, "packetCounters: not an open packet engine", "BAD_ARGUMENT", 0);
  ataru_packet_counters c;
  ataru_packet_counters_get(en->e, &c);
  Napi::Object o = Napi::Object::New(env);
  o.Set("received", static_cast<double>(c.received));
  o.Set("filtered", static_cast<double>(c.filtered));
  o.Set("transmitted", static_cast<double>(c.transmitted));
  o.Set("dropped", static_cast<double>(c.dropped));
  Napi::Object errors = Napi::Object::New(env);
  for (unsigned k = 1; k < ATARU_PACKET_ERR_KINDS; k++) {
    const char *name = ErrorKindName(k);
    if (name && c.errors[k]) errors.Set(name, static_cast<double>(c.errors[k]));
  }
  o.Set("errors", errors);
  o.Set("windows", static_cast<double>(c.windows));
  o.Set("batches", static_cast<double>(c.batches));
  ataru_summary7 s;
  ataru_moments_summary(&c.dag_us, &s);
  Napi::Object dag = Summary(env, s);
  dag.Set("count", static_cast<double>(c.dag_us.n));
  o.Set("dag", dag);
  ataru_moments_summary(&c.run_us, &s);
  Napi::Object run = Summary(env, s);
  run.Set("count", static_cast<double>(c.run_us.n));
  o.Set("run", run);
  return o;
}

class CloseWorker : public Napi::AsyncWorker {
 public:
  CloseWorker(Napi::Env env, Engine *en)
      : Napi::AsyncWorker(env, "ataru.packetClose"), en_(en), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { ataru_packet_close(en_->e); }
  void OnOK() override {
    en_->e = nullptr;
    // After the engine thread is gone nothing calls the function again.
    if (en_->has_tsfn) en_->tsfn.Release();
    deferred_.Resolve(Env().Undefined());
  }

 private:
  Engine *en_;
  Napi::Promise::Deferred deferred_;
};

// packetClose(engine) -> Promise<void>: the thread stops after its batch,
// the sockets close; then the handles may be destroyed.
Napi::Value PacketClose(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  Engine *en = GetEngine(info[0]);
  if (!en) return Throw(env, "packetClose: not a packet engine", "BAD_ARGUMENT", 0);
  if (!en->e || en->closing) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  en->closing = true;
  auto *w = new CloseWorker(env, en);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void InitPacket(Napi::Env env, Napi::Object exports) {
  exports.Set("packetProbe", Napi::Function::New(env, PacketProbe, "packetProbe"));
  exports.Set("packetOpen", Napi::Function::New(env, PacketOpen, "packetOpen"));
  exports.Set("packetCounters", Napi::Function::New(env, PacketCounters, "packetCounters"));
  exports.Set("packetClose", Napi::Function::New(env, PacketClose, "packetClose"));
}
