using System.Text.Json.Nodes;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

[Collection(NativeStateCollection.Name)]
public sealed class SafetensorsTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("olm-safetensors-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void AnIndependentReaderSeesOurTensorsAndMetadata()
    {
        var path = Path.Combine(directory, "model.safetensors");
        using (var scope = DisposeScope.Enter())
        {
            var tensors = new Dictionary<string, Tensor>
            {
                ["layers.0.weight"] = Tensor.FromArray<float>([1.5f, -2, 3.25f, 4, 5, -6], [2, 3]),
                ["double"] = Tensor.FromArray<double>([Math.PI, -Math.E], [2]),
                ["steps"] = Tensor.FromArray<long>([long.MaxValue, -7], [2, 1]),
                ["ints"] = Tensor.FromArray<int>([int.MinValue, 42], [2]),
                ["mask"] = Tensor.FromArray<bool>([true, false, true], [3]),
                ["bytes"] = Tensor.FromArray<byte>([0, 255], [2]),
                ["half"] = Tensor.FromArray<float>([0.5f, -1.25f], [2]).To(ScalarType.Float16),
                ["brain"] = Tensor.FromArray<float>([0.5f, -1.25f], [2]).To(ScalarType.BFloat16),
                ["scalar"] = Tensor.Full([], 9),
            };
            Safetensors.Save(path, tensors, new Dictionary<string, string> { ["step"] = "12", ["config"] = "{\"d\": 4}" });
        }

        var readBack = Path.Combine(directory, "read.json");
        PythonPeer.Run("safetensors_peer.py", "read", path, readBack);
        var result = JsonNode.Parse(File.ReadAllText(readBack))!;

        result["metadata"]!["step"]!.GetValue<string>().Should().Be("12");
        result["metadata"]!["config"]!.GetValue<string>().Should().Be("{\"d\": 4}");
        var t = result["tensors"]!;
        Values(t["layers.0.weight"]!).Should().Equal(1.5, -2, 3.25, 4, 5, -6);
        Shape(t["layers.0.weight"]!).Should().Equal(2, 3);
        t["layers.0.weight"]!["dtype"]!.GetValue<string>().Should().Be("F32");
        Values(t["double"]!).Should().Equal(Math.PI, -Math.E);
        t["steps"]!["values"]!.AsArray().Select(v => v!.GetValue<long>()).Should().Equal(long.MaxValue, -7);
        Shape(t["steps"]!).Should().Equal(2, 1);
        t["ints"]!["values"]!.AsArray().Select(v => v!.GetValue<long>()).Should().Equal(int.MinValue, 42);
        t["mask"]!["values"]!.AsArray().Select(v => v!.GetValue<bool>()).Should().Equal(true, false, true);
        t["bytes"]!["values"]!.AsArray().Select(v => v!.GetValue<long>()).Should().Equal(0, 255);
        Values(t["half"]!).Should().Equal(0.5, -1.25);
        Values(t["brain"]!).Should().Equal(0.5, -1.25);
        Shape(t["scalar"]!).Should().BeEmpty();
        Values(t["scalar"]!).Should().Equal(9);
    }

    [Fact]
    public void WeReadAFileAnIndependentWriterLaidOutInItsOwnOrder()
    {
        var spec = Path.Combine(directory, "spec.json");
        File.WriteAllText(spec, """
            {"metadata": {"tokenizer": "char"},
             "tensors": {"a": {"dtype": "F32", "shape": [2, 2], "values": [1, 2, 3, 4]},
                         "b": {"dtype": "I64", "shape": [3], "values": [-1, 0, 9007199254740993]},
                         "c": {"dtype": "F64", "shape": [1], "values": [0.1]}}}
            """);
        var path = Path.Combine(directory, "python.safetensors");
        PythonPeer.Run("safetensors_peer.py", "write", spec, path);

        using var content = Safetensors.Load(path);
        content.Metadata.Should().Equal(new Dictionary<string, string> { ["tokenizer"] = "char" });
        content.Tensors["a"].ToArray<float>().Should().Equal(1, 2, 3, 4);
        content.Tensors["a"].Shape.Should().Equal(2, 2);
        content.Tensors["b"].ToArray<long>().Should().Equal(-1, 0, 9007199254740993);
        content.Tensors["c"].ToArray<double>().Should().Equal(0.1);
    }

    [Fact]
    public void SaveReplacesAnExistingFileAndLeavesNoTemporaryFiles()
    {
        var path = Path.Combine(directory, "ckpt.safetensors");
        using (var scope = DisposeScope.Enter())
        {
            Safetensors.Save(path, new Dictionary<string, Tensor> { ["x"] = Tensor.Ones([4]) });
            Safetensors.Save(path, new Dictionary<string, Tensor> { ["x"] = Tensor.Full([2], 7) });
        }
        Directory.GetFiles(directory).Should().Equal(path);
        using var content = Safetensors.Load(path);
        content.Tensors["x"].ToArray<float>().Should().Equal(7, 7);
    }

    [Fact]
    public void AFailedSaveLeavesTheOldFileIntact()
    {
        var path = Path.Combine(directory, "ckpt.safetensors");
        using var scope = DisposeScope.Enter();
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["x"] = Tensor.Ones([4]) });
        var disposed = Tensor.Ones([2]);
        disposed.Dispose();
        var save = () => Safetensors.Save(path, new Dictionary<string, Tensor> { ["a"] = Tensor.Zeros([1]), ["b"] = disposed });
        save.Should().Throw<ObjectDisposedException>();
        Directory.GetFiles(directory).Should().Equal(path);
        using var content = Safetensors.Load(path);
        content.Tensors["x"].ToArray<float>().Should().Equal(1, 1, 1, 1);
    }

    public static TheoryData<string, string> CorruptFiles => new()
    {
        { "truncated", "truncated" },
        { "short", "fewer than the 8-byte header length" },
        { "huge-header", "header claims" },
        { "bad-json", "not valid JSON" },
        { "bad-dtype", "unsupported dtype 'Q7'" },
        { "size-mismatch", "needs 16 bytes but its offsets span 12" },
        { "overlap", "expected 16 (overlap or hole)" },
        { "metadata-not-string", "metadata 'step' is not a string" },
    };

    [Theory]
    [MemberData(nameof(CorruptFiles))]
    public void CorruptFilesAreRefusedWithTheReason(string kind, string reason)
    {
        var path = Path.Combine(directory, kind + ".safetensors");
        File.WriteAllBytes(path, CorruptFile(kind, path));
        var before = NativeTensors.SettledCount();
        var load = () => Safetensors.Load(path);
        load.Should().Throw<InvalidDataException>().WithMessage($"*{path}*{reason}*");
        LibTorch.LiveTensorCount.Should().Be(before, "tensors read before the error are freed");
    }

    private static byte[] CorruptFile(string kind, string path)
    {
        if (kind is "truncated")
        {
            using (var scope = DisposeScope.Enter())
                Safetensors.Save(path, new Dictionary<string, Tensor> { ["a"] = Tensor.Ones([4]), ["b"] = Tensor.Ones([8]) });
            var whole = File.ReadAllBytes(path);
            return whole[..^5];
        }
        if (kind is "short") return [1, 2, 3];
        var header = kind switch
        {
            "huge-header" => null,
            "bad-json" => "{\"a\": {",
            "bad-dtype" => """{"a": {"dtype": "Q7", "shape": [4], "data_offsets": [0, 16]}}""",
            "size-mismatch" => """{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}}""",
            "overlap" => """{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}, "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}""",
            "metadata-not-string" => """{"__metadata__": {"step": 3}, "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}""",
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        if (header is null) return [.. BitConverter.GetBytes(1UL << 40), .. new byte[32]];
        var json = System.Text.Encoding.UTF8.GetBytes(header);
        return [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. new byte[32]];
    }

    private static IEnumerable<double> Values(JsonNode tensor) => tensor["values"]!.AsArray().Select(v => v!.GetValue<double>());

    private static IEnumerable<long> Shape(JsonNode tensor) => tensor["shape"]!.AsArray().Select(v => v!.GetValue<long>());
}
