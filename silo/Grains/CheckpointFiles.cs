using System.Security.Cryptography;

namespace OrleansLm.Silo.Grains;

/// <summary>The files of a cluster checkpoint: their names, and their sha256 as written and as verified before use.</summary>
public static class CheckpointFiles
{
    public static string ShardFileName(int shard) => $"shard-{shard:D3}.safetensors";

    /// <summary>The file as it is on disk now: its size and sha256.</summary>
    public static CheckpointFile Describe(string path)
    {
        using var stream = File.OpenRead(path);
        var hash = Convert.ToHexStringLower(SHA256.HashData(stream));
        return new CheckpointFile(path, hash, stream.Length);
    }

    /// <summary>Throws <see cref="InvalidDataException"/> naming the file when it is missing or its bytes are not the ones recorded.</summary>
    public static void Verify(CheckpointFile expected)
    {
        CheckpointFile actual;
        try
        {
            actual = Describe(expected.Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{expected.Path}: cannot read the checkpoint file: {e.Message}", e);
        }
        if (actual.Bytes != expected.Bytes || actual.Sha256 != expected.Sha256)
            throw new InvalidDataException(
                $"{expected.Path}: checksum mismatch: {actual.Bytes} bytes with sha256 {actual.Sha256}, the manifest records {expected.Bytes} bytes with {expected.Sha256}");
    }
}
