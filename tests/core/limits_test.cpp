// The limits of base/limits.hpp: 64-bit sizes that saturate, and every function
// taking sizes from outside refusing, before it allocates, what a wasm32 build
// would wrap or what would take minutes: the natively computed messages are the
// ones the wasm module gives (wasm/test/api.test.mjs asserts the same strings)
// and the CLI prints (tools/CMakeLists.txt). Expected byte counts are worked
// out by hand in the comments.
#include "base/limits.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "attention/attention.hpp"
#include "attention/experiment.hpp"
#include "base/error.hpp"
#include "base/measure.hpp"
#include "kv_cache/experiment.hpp"
#include "model/generate.hpp"
#include "model/gpt.hpp"
#include "model/moe_experiment.hpp"
#include "paged_kv_cache/serving.hpp"
#include "quant/experiment.hpp"
#include "train/checkpoint.hpp"
#include "train/lora.hpp"
#include "train/train.hpp"

using namespace memlab;

TEST_CASE("count: 64-bit sizes whose products and sums saturate instead of wrapping") {
  CHECK((count(65536) * 65536 * 65536).value() == 281474976710656ull);  // 2^48, exact
  CHECK((count(1ull << 32) * (1ull << 32)).value() == count::max);      // 2^64 saturates
  CHECK((count(count::max) + 1).value() == count::max);
  CHECK((count(count::max) * 0).value() == 0);
  CHECK(count(-1).value() == count::max);  // a negative size is refused, never wrapped
  CHECK(count(3) * 4 + 5 == count(17));
  CHECK(bytes_text(512) == "512 B");
  CHECK(bytes_text(1) == "1 B");
  CHECK(bytes_text(limits::call_bytes) == "1.00 GiB");
  CHECK(bytes_text(count(1536) * 1024) == "1.50 MiB");
  CHECK(bytes_text(count(128) * (1ull << 30)) == "128 GiB");
  CHECK(bytes_text(count::max) == "16.0 EiB");
}

TEST_CASE("the limits' own messages name the sizes, their values and the limit") {
  CHECK_NOTHROW(require_bytes(limits::call_bytes, {{"n", 1}}, "x"));
  CHECK_THROWS_WITH_AS(
      require_bytes(count(limits::call_bytes) + 1, {{"rows", 3}, {"cols", 4}}, "w"),
      "rows = 3, cols = 4: expected at most 1.00 GiB held by one call "
      "(w: 1.00 GiB)",
      invalid_argument);
  CHECK_NOTHROW(require_work(limits::call_work, {{"n", 1}}, "x"));
  CHECK_THROWS_WITH_AS(require_work(3e12, {{"steps", 7}}, "the steps"),
                       "steps = 7: expected at most 2.7e+11 flops of work in one call "
                       "(the steps: 3e+12)",
                       invalid_argument);
  CHECK_THROWS_AS(require_work(NAN, {{"n", 1}}, "x"), invalid_argument);
  for (long long r : {0LL, -1LL, 101LL, 10000000LL})
    CHECK_THROWS_WITH_AS(
        require_repeats(r),
        ("repeats = " + std::to_string(r) + ": expected an integer in [1, 100]").c_str(),
        invalid_argument);
  CHECK_NOTHROW(require_repeats(100));
  const float x[3] = {1, 2, std::numeric_limits<float>::infinity()};
  CHECK_THROWS_WITH_AS(require_finite(x, 3, "v"), "v[2] = inf: expected a finite value",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(require_finite(NAN, "lr"), "lr = nan: expected a finite number",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(measure(0, [] {}), "repeats = 0: expected an integer in [1, 100]",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(measure(-1, [] {}), "repeats = -1: expected an integer in [1, 100]",
                       invalid_argument);
}

TEST_CASE("attention refuses sizes past the limits and non-finite inputs, naming them") {
  // seq 32768, head_dim 32768, heads = kv_heads = 4 (issue 15's wrap at 2^32 in
  // wasm32): q, k, v 3 · 4 · 2^30 floats = 48 GiB, the flash output kept 16 GiB,
  // naive's pass 2 · 4 · 2^30 scores and probabilities + its output 4 · 2^30
  // + the previous output 16 GiB = 64 GiB: 128 GiB.
  experiments::attention_config big;
  big.seq = big.head_dim = 32768;
  big.repeats = 1;
  CHECK_THROWS_WITH_AS(experiments::run_attention(big),
                       "seq = 32768, head_dim = 32768, heads = 4: expected at most 1.00 GiB held "
                       "by one call (q, k, v, outputs and scores: 128 GiB)",
                       invalid_argument);
  // 100 repeats at seq 4096: 101 runs of both. A run: 4 · 4 · 4096² · 64 =
  // 1.718e10 flops and 24 per (query, key) pair, 4 · 4096² of them, 1.61e9, each
  // method; tiles (500 each): flash 4 · 4096² / 64² + 4 · 4096 / 64 = 16640,
  // naive (one row) 4 · 4096² / 4096 + 4 · 4096 = 32768. 101 · 3.76e10 = 3.8e12.
  experiments::attention_config slow;
  slow.seq = 4096;
  slow.repeats = 100;
  CHECK_THROWS_WITH_AS(experiments::run_attention(slow),
                       "repeats = 100, seq = 4096, head_dim = 64, heads = 4: expected at most "
                       "2.7e+11 flops of work in one call (runs of flash and naive attention: "
                       "3.8e+12)",
                       invalid_argument);
  // naive on 65536 one-dimensional queries and keys: scores and probabilities
  // 2 · 65536² floats = 32 GiB (and 256 KiB of output).
  const tensor<3> q = xt::zeros<float>({1, 65536, 1});
  CHECK_THROWS_WITH_AS(attention::naive(q, q, q),
                       "heads = 1, seq_q = 65536, seq_kv = 65536, head_dim = 1: expected at most "
                       "1.00 GiB held by one call (naive attention: 32.0 GiB)",
                       invalid_argument);
  tensor<3> a = xt::ones<float>({2, 3, 4}), b = a, c = a;
  a(0, 0, 0) = NAN;
  CHECK_THROWS_WITH_AS(attention::flash(a, b, c), "q[0] = nan: expected a finite value",
                       invalid_argument);
  a(0, 0, 0) = 1;
  c(1, 2, 3) = -std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(attention::naive(a, b, c), "v[23] = -inf: expected a finite value",
                       invalid_argument);
  // Finite inputs whose scores overflow fp32 (inf - inf in the softmax: NaN).
  const tensor<3> huge_qk = xt::full_like(b, 1e30f);
  CHECK_THROWS_WITH_AS(attention::flash(huge_qk, huge_qk, b),
                       "max |q| · max |k| · sqrt(head_dim) = 2e+60: expected at most 3.4e+38, the "
                       "largest score fp32 holds",
                       invalid_argument);
  // The flop count in closed form, also where a loop over queries would take seconds.
  const attention::shape huge{1, 1, 1u << 31, 1u << 31, 1};
  CHECK(attention::flops(huge, true) == 4.0 * (2147483648.0 * 2147483649.0 / 2));
  CHECK(attention::kv_bytes(1u << 16, 1u << 16, 1u << 16) == 8ull << 48);  // 2 · 2^48 · 4
}

TEST_CASE("the cache decoding experiment refuses a cache past the limit before making its steps") {
  experiments::cache_decode_config c;
  c.tokens = 1000000000;
  c.heads = c.kv_heads = 1;
  c.head_dim = 4;
  c.repeats = 1;
  // Per step q, k, v (3 · 4 floats) and 768 bytes of bookkeeping: 816 GB; the
  // cache and its copies 4 · 2 · 4 · 10^9 · 4 bytes = 128 GB: 944e9 B = 879 GiB.
  CHECK_THROWS_WITH_AS(experiments::run_cache_decode(c),
                       "tokens = 1000000000, heads = 1, head_dim = 4: expected at most 1.00 GiB "
                       "held by one call (every step's q, k, v and the cache: 879 GiB)",
                       invalid_argument);
}

TEST_CASE("models: weights past the limit, sizes in 64 bits, a file whose size wraps in 32") {
  // max_seq 2^28 of d_model 4: the position table alone is 2^30 floats, 4 GiB.
  gpt::config c{1, 4, 1, 1, 4, 1 << 28, true};
  CHECK_THROWS_WITH_AS(gpt::model(c, 1),
                       "layers = 1, d_model = 4, d_ff = 4, max_seq = 268435456: expected at most "
                       "1.00 GiB held by one call (the model's fp32 weights: 4.00 GiB)",
                       invalid_argument);
  // KV bytes: 2 · 2 layers · 2 kv_heads · 16 head_dim · 4 = 512 per token.
  const gpt::config small{2, 32, 2, 2, 64, 64, true};
  CHECK(gpt::kv_cache_bytes(small, 1u << 30) == 549755813888ull);
  CHECK(gpt::kv_cache_bytes(small, 1000000000) == 512000000000ull);
  // 512 layers of d_model 1 and d_ff 2^20 - 3, max_seq 851: 256 + 851 + 1 +
  // 512 · (6 + 2 (2^20 - 3)) = 2^30 + 1108 parameters, whose 4 bytes each wrap to
  // 4432 in 32 bits: a 40 + 4432 = 4472-byte file passed the exact-size check
  // (it needs 40 + 4 · 2^30 + 4432 = 4294971768 bytes).
  std::vector<std::uint8_t> file(4472, 0);
  std::memcpy(file.data(), "MLABGPT1", 8);
  const std::uint32_t header[8] = {512, 1, 1, 1, (1u << 20) - 3, 851, 1, 256};
  std::memcpy(file.data() + 8, header, sizeof header);
  CHECK_THROWS_WITH_AS(
      gpt::model::from_bytes(file),
      "file size = 4472: expected exactly 4294971768 bytes for layers 512, "
      "d_model 1, heads 1, kv_heads 1, d_ff 1048573, max_seq 851, tied (truncated)",
      invalid_argument);
  // A weight that is not finite is named by layer and tensor.
  const gpt::model m({1, 4, 1, 1, 4, 4, true}, 1);
  auto bytes = m.to_bytes();
  // Layout: header 40, token_embedding 256 · 4, position_embedding 4 · 4, then
  // layer 0's norm1 (4), wq (16): wq[2] is float 1024 + 16 + 4 + 2 = 1046.
  const float nan = NAN;
  std::memcpy(bytes.data() + 40 + 1046 * 4, &nan, 4);
  CHECK_THROWS_WITH_AS(gpt::model::from_bytes(bytes),
                       "layers[0].wq[2] = nan: expected a finite value", invalid_argument);
}

TEST_CASE("generation refuses an infinite temperature and work past the limit") {
  const gpt::model m({1, 16, 2, 1, 32, 32, true}, 1);
  sampling hot;
  hot.temperature = std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(generate(m, {1, 2}, 3, true, hot),
                       "temperature = inf: expected 0 (greedy) or a positive finite number",
                       invalid_argument);
  // 100000 layers: 100000 · (2 · 128 + 4 · 128² + 2 · 128 · 512) floats of
  // weights alone, 73 GiB.
  gpt::config deep{100000, 128, 4, 4, 512, 512, true};
  CHECK_THROWS_AS(gpt::model(deep, 1), invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::time_weight_read(m, 10000000),
                       "repeats = 10000000: expected an integer in [1, 100]", invalid_argument);
}

TEST_CASE("training refuses NaN learning rates and runs past the work limit") {
  train::options o;
  o.model = {1, 16, 2, 1, 32, 8, true};
  o.steps = 2, o.batch = 1, o.seq = 8;
  const std::string text(200, 'a');
  o.adam.lr = NAN;
  CHECK_THROWS_WITH_AS(train::run(text, o), "lr = nan: expected a positive finite learning rate",
                       invalid_argument);
  // A rate that blows the weights up is named as the cause once a step overflows,
  // not by attention's input check on the next pass ("q[0] = nan", fuzz seed 2).
  std::string words;
  while (words.size() < 400) words += "memory is the limit of a model; ";
  o.adam.lr = 1e9f;
  o.steps = 4;
  CHECK_THROWS_WITH_AS(
      train::run(words, o),
      doctest::Contains("expected a learning rate at which training stays finite (loss or weights "
                        "overflowed at step "),
      invalid_argument);
  o.adam.lr = 0.01f;
  CHECK(train::run(words, o).losses.size() == 4);
  o.steps = 10000000;
  // A forward pass over 8 tokens (gpt::cost): per token the linear layers
  // 2 · (2 · 16² + 2 · 16 · 8 + 2 · 16 · 32) = 3584 and element-wise 20 · (4 · 16
  // + 32) + 2000 = 3920; per pair 4 · 2 · 8 + 24 · 2 = 112, 8 · 4 + 36 pairs
  // (naive attention counted as start = seq / 2); per row the head 2 · 16 · 256:
  // 8 · 7504 + 68 · 112 + 8 · 8192 = 133184. 3 · 10^7 + 8 passes: 4.0e12.
  CHECK_THROWS_WITH_AS(
      train::run(text, o),
      "steps = 10000000, batch = 1, seq = 8, layers = 1, d_model = 16, d_ff = 32, "
      "max_seq = 8: expected at most 2.7e+11 flops of work in one call (the training steps: 4e+12)",
      invalid_argument);
  // Activation checkpointing: a stack of 4 blocks of 32768 x 32768, weights and
  // gradients 2 · 4 · 2 · 2^30 floats: 64 GiB.
  CHECK_THROWS_WITH_AS(checkpoint::mlp_stack(4, 32768, 32768, 1),
                       "layers = 4, width = 32768, hidden = 32768: expected at most 1.00 GiB held "
                       "by one call (the stack's weights and gradients: 64.0 GiB)",
                       invalid_argument);
  CHECK(checkpoint::peak_activation_bytes({0}, 16, 1u << 30, 1u << 30, 1u << 30) ==
        count::max);  // saturated, not wrapped
  const gpt::model base({2, 32, 2, 2, 64, 64, true}, 1);
  CHECK_THROWS_WITH_AS(lora::model(base, 2, NAN, false, 1), "alpha = nan: expected a finite number",
                       invalid_argument);
}

TEST_CASE("quantization checks every field and the limits") {
  experiments::quant_config c;
  c.rows = c.cols = 64;
  c.format = "q4_0";
  c.granularity = "12";
  CHECK_THROWS_WITH_AS(experiments::run_quant(c),
                       "granularity = 12: expected one of tensor, channel, group",
                       invalid_argument);
  c.granularity = "group";
  c.group = -1;
  CHECK_THROWS_WITH_AS(experiments::run_quant(c), "group = -1: expected a positive integer",
                       invalid_argument);
  c.group = 32;
  c.rows = c.cols = 32768;
  // 2^30 values: W, a quantized copy of at most its size and a scale per
  // value, two dequantized copies: 5 · 4 bytes each, 20 GiB.
  CHECK_THROWS_WITH_AS(experiments::run_quant(c),
                       "rows = 32768, cols = 32768: expected at most 1.00 GiB held by one call "
                       "(the weights, quantized and dequantized: 20.0 GiB)",
                       invalid_argument);
}

TEST_CASE("serving: a rate whose arrivals pass int steps, and requests past the bytes") {
  serving::serving_config c;
  c.stream.requests = 20;
  c.stream.rate = 1e-9;
  // 19 gaps of 1e9 steps on average: 1.9e10 steps; at least 19 / 2^29.
  CHECK_THROWS_WITH_AS(serving::run_serving(c),
                       "rate = 1e-09: expected at least 3.53903e-08 for requests = 20 to arrive "
                       "within 536870912 steps",
                       invalid_argument);
  c.stream.rate = 0.25;
  c.stream.requests = 10000000;
  // 16 bytes a request, 3 · 20 of outcomes and 32 more: 1.08e9 bytes.
  CHECK_THROWS_WITH_AS(serving::run_serving(c),
                       "requests = 10000000, max_seq = 1024: expected at most 1.00 GiB held by one "
                       "call (the requests and outcomes: 1.01 GiB)",
                       invalid_argument);
}

TEST_CASE("the page's heaviest settings fit the work limit; ten times them do not") {
  // Flash vs naive at seq 4096 (the page's maximum), 4 heads of 64, 3 repeats.
  const attention::shape s{4, 4, 4096, 4096, 64};
  const double run =
      attention::work(s, false, {false, 64, 64}) + attention::work(s, false, {false, 1, 4096});
  CHECK(4 * run <= limits::call_work);
  CHECK(40 * run > limits::call_work);
  // 500 tokens of the page's tiny GPT (4 layers, d_model 128) without a cache.
  const gpt::config page{4, 128, 4, 4, 512, 512, true};
  CHECK(generation_flops(page, 10, 500, false) <= limits::call_work);
  CHECK(generation_flops(page, 10, 500, true) * 100 <= limits::call_work);
  CHECK(generation_flops({40, 128, 4, 4, 512, 512, true}, 10, 500, false) > limits::call_work);
}

TEST_CASE("the MoE sweeps refuse repeats, a dense width and work past the limits before building") {
  gpt::config c;
  c.layers = 1, c.d_model = 64, c.heads = 1, c.kv_heads = 1, c.d_ff = 1 << 16, c.max_seq = 1;
  c.tied = true, c.top_k = 1;
  experiments::moe_speed_config speed;
  speed.model = c, speed.experts = {2}, speed.top_k = 1, speed.tokens = 4, speed.repeats = 0;
  CHECK_THROWS_WITH_AS(experiments::run_moe_speed(speed),
                       "repeats = 0: expected an integer in [1, 100]", invalid_argument);
  speed.experts = {1 << 15}, speed.repeats = 1;
  // The dense model of the same total size is d_ff · experts = 2^16 · 2^15 = 2^31 wide.
  CHECK_THROWS_WITH_AS(experiments::run_moe_speed(speed),
                       "d_ff · experts = 2147483648: expected at most 2^30 (the dense model)",
                       invalid_argument);
  // With 16 experts one model has 256 · 64 + 64 (embeddings) + 64 (norm_f) + one
  // layer of 2 · 64 + 4 · 64 · 64 (norms, wq wk wv wo) + 64 · 16 + 16 · 2 · 64 · 2^16
  // (router, experts) = 134251776 parameters (512 MiB, under the byte limit):
  // 50 flops each, 41 models 2.75e11 > 2^38.
  CHECK(gpt::parameters([&] {
          gpt::config e = c;
          e.experts = 16;
          return e;
        }())
            .value() == 134251776);
  CHECK_THROWS_WITH_AS(
      experiments::run_moe_sizes({c, std::vector<int>(41, 16)}),
      "experts.size() = 41, max(experts) = 16, layers = 1, d_model = 64, "
      "d_ff = 65536, max_seq = 1: expected at most 2.7e+11 flops of work in one call "
      "(the models' random weights: 2.8e+11)",
      invalid_argument);
}

TEST_CASE("a value's control characters are escaped, so a NUL cannot cut the message short") {
  CHECK_THROWS_WITH_AS(require(false, "format", std::string("q\0\n8", 4), "one of q8_0, q4_0"),
                       "format = q\\x00\\x0a8: expected one of q8_0, q4_0", invalid_argument);
  CHECK(named("policy", "every:2") == "policy = every:2");
}

TEST_CASE(
    "KV cache bytes: exact up to 2^53 (a JS number), refused past it or when the product "
    "saturates") {
  // 2 · 2^20 layers · 2^30 tokens · head_dim 1 · 4 bytes = 2^53
  const gpt::config c{1 << 20, 1, 1, 1, 4, 4, true};
  CHECK(gpt::kv_cache_bytes(c, 1ull << 30) == 1ull << 53);
  CHECK_THROWS_WITH_AS(gpt::kv_cache_bytes(c, (1ull << 30) + 1),
                       "2 · layers · kv_heads · tokens · head_dim · 4 = 9.0072e+15: expected at "
                       "most 2^53 bytes (8 PiB, exact as a JS number)",
                       invalid_argument);
  // 8 · (2^31 - 1) · 10^9 · 64 = 1.099511627264e21: past 2^64, the 64-bit product saturates
  const gpt::config wide{2147483647, 64, 1, 1, 64, 64, true};
  CHECK_THROWS_WITH_AS(experiments::kv_cache_bytes(wide, 1000000000),
                       "2 · layers · kv_heads · tokens · head_dim · 4 = 1.09951e+21: expected at "
                       "most 2^53 bytes (8 PiB, exact as a JS number)",
                       invalid_argument);
}

TEST_CASE("a quantization round trip's row is a whole number of its format's groups") {
  CHECK_THROWS_WITH_AS(
      experiments::run_quant_round_trip("int8_asym", 7, 1, 1),
      "n = 7: expected a multiple of 128, the group or block of int8_asym group 128",
      invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::run_quant_round_trip("q4_0", 48, 1, 1),
                       "n = 48: expected a multiple of 32, the group or block of q4_0",
                       invalid_argument);
  CHECK(experiments::run_quant_round_trip("fp16", 7, 1, 1).output_bytes == 28);
}
