using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansLm.GpuBench;
using OrleansLm.Model.IO;
using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;

// GPU benchmark (bench/gpu.sh runs it on the GPU machine, packed by bench/gpu-pack.sh):
//   throughput: tokens/s and MFU of a GPT-2-small-shaped Transformer's training steps on a device, as bench/gpu_peer.py for PyTorch;
//   losses:     the first steps' losses of a small fixed run on a device, to hold CUDA's against the CPU's.
const string Usage =
    "usage: OrleansLm.GpuBench throughput [--device cpu|cuda|cuda:N] [--layers 12] [--heads 12] [--dim 768] [--block 1024] [--vocab 50304]\n" +
    "                                     [--batch 8] [--warmup 10] [--steps 50] [--precision fp32|bf16 (default bf16: autocast)] [--tf32]\n" +
    "                                     [--peak-tflops P (the device's dense BFloat16 TFLOP/s, for MFU; required on cuda)] [--seed 1337] [--json PATH]\n" +
    "       OrleansLm.GpuBench losses [--device cpu|cuda|cuda:N] [--steps 20] [--data TEXT_FILE (default: synthetic tokens)] [--seed 1337] [--json PATH]";

try
{
    switch (args)
    {
        case ["throughput", .. var rest]:
            MeasureThroughput(CommandLine.Parse(rest,
                ["--device", "--layers", "--heads", "--dim", "--block", "--vocab", "--batch", "--warmup", "--steps", "--precision", "--peak-tflops", "--seed", "--json"],
                ["--tf32"]));
            return 0;
        case ["losses", .. var rest]:
            ReportLosses(CommandLine.Parse(rest, ["--device", "--steps", "--data", "--seed", "--json"], []));
            return 0;
        case ["--help" or "-h" or "help"]:
            Console.WriteLine(Usage);
            return 0;
        default:
            Console.Error.WriteLine(Usage);
            return 2;
    }
}
catch (UsageException e)
{
    Console.Error.WriteLine($"OrleansLm.GpuBench: {e.Message}\n{Usage}");
    return 2;
}

static void MeasureThroughput(CommandLine options)
{
    var device = options.Device("--device");
    var (layers, heads, dim) = (options.Int("--layers", 12), options.Int("--heads", 12), options.Int("--dim", 768));
    if (dim % heads != 0) throw new UsageException($"--dim ({dim}) must be divisible by --heads ({heads})");
    var peak = options.PositiveDouble("--peak-tflops");
    if (device.Type == DeviceType.Cuda && peak is null)
        throw new UsageException("--peak-tflops is required on cuda (the GPU's dense BFloat16 peak, for MFU)");
    var settings = new ThroughputSettings(
        device, new TransformerConfig(options.Int("--vocab", 50304), options.Int("--block", 1024), layers, heads, dim),
        options.Int("--batch", 8), options.Int("--warmup", 10, minimum: 0), options.Int("--steps", 50),
        options.Choice("--precision", "bf16", "fp32") == "bf16" ? Precision.Bf16 : Precision.Fp32, options.Switch("--tf32"), peak, (ulong)options.Int("--seed", 1337, minimum: 0));

    var result = Throughput.Measure(settings);
    Console.WriteLine(Invariant($"{result.Impl} on {result.Device} (libtorch {result.TorchVersion}), {result.Precision}{(result.Tf32 ? " + TF32" : "")}: ") +
                      Invariant($"{result.Layers} layers, {result.Heads} heads, {result.Dim}-d, block {result.Block}, vocab {result.Vocab}, batch {result.Batch}"));
    Console.WriteLine(Invariant($"  {result.Parameters:N0} parameters, {result.FlopsPerToken / 1e6:F1} MFLOP/token; {result.Steps} steps after {result.Warmup} warm-up"));
    Console.WriteLine(Invariant($"  {result.TokensPerSecond:F0} tokens/s, {result.StepMs:F1} ms/step, final loss {result.FinalLoss:F4}") +
                      (result.Mfu is { } mfu ? Invariant($", MFU {mfu:P1} of {result.PeakTflops} TFLOP/s") : ""));
    WriteJson(options.String("--json"), result);
}

static void ReportLosses(CommandLine options)
{
    var device = options.Device("--device");
    var data = options.String("--data");
    if (data is not null && !File.Exists(data)) throw new UsageException($"--data {data}: no such file");
    var config = LossCheck.Config(data, options.Int("--steps", 20), (ulong)options.Int("--seed", 1337, minimum: 0));

    var result = LossCheck.Run(device, config);
    Console.WriteLine(Invariant($"losses on {result.Device} (libtorch {result.TorchVersion}), {result.Data}:"));
    Console.WriteLine(string.Join(' ', result.Losses.Select(loss => loss.ToString("F6", CultureInfo.InvariantCulture))));
    WriteJson(options.String("--json"), result);
}

static void WriteJson(string? path, object result)
{
    if (path is null) return;
    AtomicFile.WriteAllText(path, JsonSerializer.Serialize(result, new JsonSerializerOptions
    {
        WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    }));
}

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
