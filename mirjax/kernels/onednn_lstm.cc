// One LSTM layer (zero initial state, gate order i, f, g, o) as oneDNN's RNN primitive, exposed to
// XLA CPU as three FFI custom calls: inference forward, training forward (which also returns the
// primitive's workspace), and backward. Why: XLA CPU runs an LSTM as T dependent small GEMMs with
// per-step dispatch and stored gates; oneDNN runs the whole sequence in one call with its own
// fused cell kernels (the same primitive PyTorch's CPU nn.LSTM uses). See mirjax/kernels/lstm.py.
//
// Layouts are mirjax's: x [T, N, C] time-major, w_in [C, 4H], w_rec [H, 4H] (oneDNN's ldigo with
// L = D = 1), bias [4H] float32, hidden states [T, N, H]. x, weights and hidden states are all
// float32 or all bfloat16 (oneDNN's bf16 RNN: bf16 inputs, f32 accumulation and cell state); the
// bias and every gradient are float32. Primitive descriptors are built once per shape; every
// execution brings its own scratchpad, so two XLA devices may run the same primitive at once.
// oneDNN's OpenMP threads are the `threads` attribute (mirjax: the cores per XLA device), set for
// the calling thread while it builds or runs a primitive.
#include <omp.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using dnnl::memory;
using tag = memory::format_tag;

namespace {

// A layer's sizes, its type, and the OpenMP threads its primitives are built for and run with
// (oneDNN sizes per-thread buffers when it builds a primitive).
struct Shape {
  int64_t t, n, c, h;
  bool bf16;
  int64_t threads;
  auto key() const { return std::make_tuple(t, n, c, h, bf16, threads); }
  memory::data_type dt() const { return bf16 ? memory::data_type::bf16 : memory::data_type::f32; }
  memory::desc x(tag f = tag::tnc) const { return {{t, n, c}, dt(), f}; }
  memory::desc hs(tag f = tag::tnc) const { return {{t, n, h}, dt(), f}; }
  memory::desc w_in(tag f) const { return {{1, 1, c, 4, h}, dt(), f}; }
  memory::desc w_rec(tag f) const { return {{1, 1, h, 4, h}, dt(), f}; }
  // Gradients are float32 in both modes (what oneDNN's bf16 backward supports).
  memory::desc dx() const { return {{t, n, c}, memory::data_type::f32, tag::tnc}; }
  memory::desc dhs() const { return {{t, n, h}, memory::data_type::f32, tag::tnc}; }
  memory::desc dh0() const { return {{1, 1, n, h}, memory::data_type::f32, tag::ldnc}; }
  memory::desc dc0() const { return dh0(); }
  memory::desc dw_in(tag f) const { return {{1, 1, c, 4, h}, memory::data_type::f32, f}; }
  memory::desc dw_rec(tag f) const { return {{1, 1, h, 4, h}, memory::data_type::f32, f}; }
  // The zero initial state, passed explicitly: oneDNN 3.2's backward gives a wrong recurrent-weight
  // gradient when src_iter is left out (measured against mirjax's XLA LSTM; tests/test_kernels.py).
  memory::desc h0() const { return {{1, 1, n, h}, dt(), tag::ldnc}; }
  memory::desc c0() const { return {{1, 1, n, h}, memory::data_type::f32, tag::ldnc}; }
  memory::desc bias() const { return {{1, 1, 4, h}, memory::data_type::f32, tag::ldgo}; }
};

dnnl::engine& cpu() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// Sets the calling thread's OpenMP team size for the scope (oneDNN reads it when it builds and
// when it runs a primitive), and puts the old value back.
struct OmpThreads {
  int saved = omp_get_max_threads();
  explicit OmpThreads(int64_t n) { omp_set_num_threads(static_cast<int>(n)); }
  ~OmpThreads() { omp_set_num_threads(saved); }
};

memory::desc none() { return memory::desc(); }

dnnl::lstm_forward::primitive_desc forward_pd(const Shape& s, dnnl::prop_kind kind) {
  return dnnl::lstm_forward::primitive_desc(
      cpu(), kind, dnnl::rnn_direction::unidirectional_left2right, s.x(), s.h0(), s.c0(),
      s.w_in(tag::any), s.w_rec(tag::any), s.bias(), s.hs(), none(), none(), user_scratchpad());
}

// The primitives of one shape, each built on first use (scoring never builds the training pair).
// Weights use the layouts oneDNN picks (format_tag::any); mirjax's ldigo weights are reordered
// into them per call (a few hundred KiB).
struct Inference {
  dnnl::lstm_forward::primitive_desc pd;
  dnnl::lstm_forward primitive;
  explicit Inference(const Shape& s)
      : pd(forward_pd(s, dnnl::prop_kind::forward_inference)), primitive(pd) {}
};

struct Training {
  dnnl::lstm_forward::primitive_desc fwd_pd;
  dnnl::lstm_backward::primitive_desc bwd_pd;
  dnnl::lstm_forward fwd;
  dnnl::lstm_backward bwd;
  explicit Training(const Shape& s)
      : fwd_pd(forward_pd(s, dnnl::prop_kind::forward_training)),
        bwd_pd(cpu(), dnnl::prop_kind::backward, dnnl::rnn_direction::unidirectional_left2right,
               s.x(), s.h0(), s.c0(), s.w_in(tag::any), s.w_rec(tag::any), s.bias(), s.hs(),
               none(), none(), s.dx(), s.dh0(), s.dc0(), s.dw_in(tag::any), s.dw_rec(tag::any),
               s.bias(), s.dhs(), none(), none(), fwd_pd, user_scratchpad()),
        fwd(fwd_pd),
        bwd(bwd_pd) {}
};

template <typename P>
const P& cached(const Shape& s) {
  static std::mutex mu;
  static std::map<decltype(s.key()), std::unique_ptr<P>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& entry = cache[s.key()];
  if (!entry) {
    OmpThreads team(s.threads);
    entry = std::make_unique<P>(s);
  }
  return *entry;
}

// Per-thread scratch buffers, reused across calls (each XLA CPU device runs on its own thread).
struct Scratch {
  std::vector<std::vector<uint8_t>> buffers;
  size_t next = 0;
  void* get(size_t bytes) {
    if (next == buffers.size()) buffers.emplace_back();
    auto& b = buffers[next++];
    if (b.size() < bytes) b.resize(bytes);
    return b.data();
  }
};

thread_local Scratch scratch;

// `user` (plain layout at `ptr`) in the layout `want`: the same memory when they agree, else a
// reordered copy in a scratch buffer.
memory in_layout(const memory::desc& want, const memory::desc& user, void* ptr,
                 dnnl::stream& stream) {
  memory src(user, cpu(), ptr);
  if (want == user) return src;
  memory dst(want, cpu(), scratch.get(want.get_size()));
  dnnl::reorder(src, dst).execute(stream, src, dst);
  return dst;
}

// A zeroed scratch buffer for `md`.
memory zeros(const memory::desc& md) {
  void* ptr = scratch.get(md.get_size());
  std::memset(ptr, 0, md.get_size());
  return memory(md, cpu(), ptr);
}

Shape shape_of(ffi::AnyBuffer x, ffi::AnyBuffer w_rec, int64_t threads) {
  auto xd = x.dimensions();
  return Shape{xd[0], xd[1], xd[2], w_rec.dimensions()[0],
               x.element_type() == ffi::DataType::BF16, threads};
}

memory scratchpad(const memory::desc& md) {
  return memory(md, cpu(), scratch.get(md.get_size()));
}

template <typename F>
ffi::Error guarded(int64_t threads, F&& body) {
  try {
    OmpThreads team(threads);
    scratch.next = 0;
    dnnl::stream stream(cpu());
    body(stream);
    stream.wait();
    return ffi::Error::Success();
  } catch (const std::exception& e) {
    return ffi::Error(ffi::ErrorCode::kInternal, std::string("oneDNN LSTM: ") + e.what());
  }
}

// The arguments a forward and a backward primitive share: the layer's inputs, the zero initial
// state, the hidden states, and a scratchpad for `pd`.
template <typename PrimitiveDesc>
std::unordered_map<int, memory> layer_args(const Shape& s, const PrimitiveDesc& pd,
                                           ffi::AnyBuffer x, ffi::AnyBuffer w_in,
                                           ffi::AnyBuffer w_rec, ffi::Buffer<ffi::F32> bias,
                                           void* hs, dnnl::stream& stream) {
  return {{DNNL_ARG_SRC_LAYER, memory(s.x(), cpu(), x.untyped_data())},
          {DNNL_ARG_SRC_ITER, zeros(s.h0())},
          {DNNL_ARG_SRC_ITER_C, zeros(s.c0())},
          {DNNL_ARG_WEIGHTS_LAYER,
           in_layout(pd.weights_layer_desc(), s.w_in(tag::ldigo), w_in.untyped_data(), stream)},
          {DNNL_ARG_WEIGHTS_ITER,
           in_layout(pd.weights_iter_desc(), s.w_rec(tag::ldigo), w_rec.untyped_data(), stream)},
          {DNNL_ARG_BIAS, memory(s.bias(), cpu(), bias.typed_data())},
          {DNNL_ARG_DST_LAYER, memory(s.hs(), cpu(), hs)},
          {DNNL_ARG_SCRATCHPAD, scratchpad(pd.scratchpad_desc())}};
}

ffi::Error Forward(ffi::AnyBuffer x, ffi::AnyBuffer w_in, ffi::AnyBuffer w_rec,
                   ffi::Buffer<ffi::F32> bias, ffi::Result<ffi::AnyBuffer> hs,
                   ffi::Result<ffi::AnyBuffer> workspace, int64_t threads, bool training) {
  return guarded(threads, [&](dnnl::stream& stream) {
    Shape s = shape_of(x, w_rec, threads);
    if (!training) {
      const Inference& p = cached<Inference>(s);
      p.primitive.execute(stream,
                          layer_args(s, p.pd, x, w_in, w_rec, bias, hs->untyped_data(), stream));
      return;
    }
    const Training& p = cached<Training>(s);
    auto args = layer_args(s, p.fwd_pd, x, w_in, w_rec, bias, hs->untyped_data(), stream);
    args[DNNL_ARG_WORKSPACE] = memory(p.fwd_pd.workspace_desc(), cpu(), workspace->untyped_data());
    p.fwd.execute(stream, args);
  });
}

ffi::Error Infer(ffi::AnyBuffer x, ffi::AnyBuffer w_in, ffi::AnyBuffer w_rec,
                 ffi::Buffer<ffi::F32> bias, ffi::Result<ffi::AnyBuffer> hs, int64_t threads) {
  return Forward(x, w_in, w_rec, bias, hs, hs, threads, false);
}

ffi::Error Train(ffi::AnyBuffer x, ffi::AnyBuffer w_in, ffi::AnyBuffer w_rec,
                 ffi::Buffer<ffi::F32> bias, ffi::Result<ffi::AnyBuffer> hs,
                 ffi::Result<ffi::AnyBuffer> workspace, int64_t threads) {
  return Forward(x, w_in, w_rec, bias, hs, workspace, threads, true);
}

ffi::Error Backward(ffi::AnyBuffer x, ffi::AnyBuffer w_in, ffi::AnyBuffer w_rec,
                    ffi::Buffer<ffi::F32> bias, ffi::AnyBuffer hs, ffi::AnyBuffer workspace,
                    ffi::Buffer<ffi::F32> d_hs, ffi::Result<ffi::Buffer<ffi::F32>> dx,
                    ffi::Result<ffi::Buffer<ffi::F32>> dw_in,
                    ffi::Result<ffi::Buffer<ffi::F32>> dw_rec,
                    ffi::Result<ffi::Buffer<ffi::F32>> dbias, int64_t threads) {
  return guarded(threads, [&](dnnl::stream& stream) {
    Shape s = shape_of(x, w_rec, threads);
    const Training& p = cached<Training>(s);
    auto args = layer_args(s, p.bwd_pd, x, w_in, w_rec, bias, hs.untyped_data(), stream);
    // oneDNN adds the weight gradients to what their buffers hold: zeroed ones.
    memory dwi = zeros(p.bwd_pd.diff_weights_layer_desc());
    memory dwr = zeros(p.bwd_pd.diff_weights_iter_desc());
    std::memset(dbias->typed_data(), 0, dbias->size_bytes());
    args.insert({
        {DNNL_ARG_WORKSPACE, memory(p.bwd_pd.workspace_desc(), cpu(), workspace.untyped_data())},
        {DNNL_ARG_DIFF_DST_LAYER, memory(s.dhs(), cpu(), d_hs.typed_data())},
        {DNNL_ARG_DIFF_SRC_LAYER, memory(s.dx(), cpu(), dx->typed_data())},
        {DNNL_ARG_DIFF_SRC_ITER, zeros(s.dh0())},
        {DNNL_ARG_DIFF_SRC_ITER_C, zeros(s.dc0())},
        {DNNL_ARG_DIFF_WEIGHTS_LAYER, dwi},
        {DNNL_ARG_DIFF_WEIGHTS_ITER, dwr},
        {DNNL_ARG_DIFF_BIAS, memory(s.bias(), cpu(), dbias->typed_data())}});
    p.bwd.execute(stream, args);
    memory dwi_user(s.dw_in(tag::ldigo), cpu(), dw_in->typed_data());
    memory dwr_user(s.dw_rec(tag::ldigo), cpu(), dw_rec->typed_data());
    dnnl::reorder(dwi, dwi_user).execute(stream, dwi, dwi_user);
    dnnl::reorder(dwr, dwr_user).execute(stream, dwr, dwr_user);
  });
}

}  // namespace

// Builds the primitives a traced call will run (at trace time, so that a CPU or shape oneDNN has no
// kernel for fails there, with oneDNN's reason in `error`) and returns the bytes of the workspace
// the training forward hands to the backward (0 for inference), or -1.
extern "C" int64_t mirjax_lstm_prepare(int64_t t, int64_t n, int64_t c, int64_t h, int bf16,
                                       int64_t threads, int training, char* error,
                                       int64_t error_size) {
  try {
    Shape s{t, n, c, h, bf16 != 0, threads};
    if (!training) return (cached<Inference>(s), 0);
    return cached<Training>(s).fwd_pd.workspace_desc().get_size();
  } catch (const std::exception& e) {
    snprintf(error, error_size, "%s", e.what());
    return -1;
  }
}

// The arguments every handler starts with: x, w_in, w_rec, bias.
auto layer_args() {
  return ffi::Ffi::Bind()
      .Arg<ffi::AnyBuffer>()
      .Arg<ffi::AnyBuffer>()
      .Arg<ffi::AnyBuffer>()
      .Arg<ffi::Buffer<ffi::F32>>();
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(MirjaxLstmInfer, Infer,
                              layer_args().Ret<ffi::AnyBuffer>().Attr<int64_t>("threads"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(MirjaxLstmTrain, Train,
                              layer_args()
                                  .Ret<ffi::AnyBuffer>()  // hidden states
                                  .Ret<ffi::AnyBuffer>()  // workspace
                                  .Attr<int64_t>("threads"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(MirjaxLstmBackward, Backward,
                              layer_args()
                                  .Arg<ffi::AnyBuffer>()  // hidden states
                                  .Arg<ffi::AnyBuffer>()  // workspace
                                  .Arg<ffi::Buffer<ffi::F32>>()  // their cotangent
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dx
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dw_in
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dw_rec
                                  .Ret<ffi::Buffer<ffi::F32>>()  // dbias
                                  .Attr<int64_t>("threads"));
