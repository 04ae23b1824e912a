using System.Text;
using OrleansLm.Model.IO;
using OrleansLm.Model.Models;

namespace OrleansLm.Model.Tests;

public sealed class AtomicFileTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("olm-atomic-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void AWriteThatFailsHalfwayLeavesTheOldFileAndNoTemporaryFile()
    {
        var path = Path.Combine(directory, "file.bin");
        AtomicFile.Write(path, file => file.Write([1, 2, 3]));

        var write = () => AtomicFile.Write(path, file =>
        {
            file.Write([9, 9, 9, 9]);
            file.Flush();
            throw new IOException("disk full");
        });

        write.Should().Throw<IOException>().WithMessage("disk full");
        Directory.GetFiles(directory).Should().Equal(path);
        File.ReadAllBytes(path).Should().Equal(1, 2, 3);
    }

    [Fact]
    public void TextIsWrittenAsFileWriteAllTextWritesIt()
    {
        var path = Path.Combine(directory, "atomic.json");
        var reference = Path.Combine(directory, "reference.json");
        const string text = "{\"kind\": \"char\", \"é\": \"€\"}";
        File.WriteAllText(path, "an older, longer content that must vanish entirely");

        AtomicFile.WriteAllText(path, text);
        File.WriteAllText(reference, text);

        File.ReadAllBytes(path).Should().Equal(File.ReadAllBytes(reference));
        Encoding.UTF8.GetString(File.ReadAllBytes(path)).Should().Be(text);
    }

    [Fact]
    public void NGramFilesRoundTripThroughPathsAndBadOnesNameThePath()
    {
        var path = Path.Combine(directory, "counts.ngram");
        var counts = NGramCounts.FromTokens(2, 5, [0, 1, 2, 3, 4, 0, 1]);
        counts.Save(path);
        counts.Save(path);

        Directory.GetFiles(directory).Should().Equal(path);
        NGramCounts.Load(path).Grams(2).Should().BeEquivalentTo(counts.Grams(2));
        var asModel = () => NGramLm.Load(path);
        asModel.Should().Throw<InvalidDataException>().WithMessage($"{path}: n-gram file holds counts only*");
    }
}
