using OrleansLm.Runtime.Cluster;

namespace OrleansLm.Runtime.Tests;

public sealed class ConsistentHashRingTests
{
    private static readonly SiloAddress[] Silos = [.. Enumerable.Range(0, 4).Select(i => new SiloAddress("127.0.0.1", 11000 + i, 1))];
    private static readonly string[] Keys = [.. Enumerable.Range(0, 4000).Select(i => $"worker/run-{i % 7}/{i}")];

    [Fact]
    public void EverySiloOwnsAFairShareOfKeys()
    {
        var ring = new ConsistentHashRing(Silos);
        var shares = Keys.GroupBy(k => ring.Owner(k)!).ToDictionary(g => g.Key, g => g.Count());
        shares.Keys.Should().BeEquivalentTo(Silos);
        // 30 virtual nodes each keep every share within a factor of two of the mean (1000).
        shares.Values.Should().OnlyContain(count => count > 500 && count < 2000, string.Join(", ", shares.Values));
    }

    [Fact]
    public void RemovingASiloMovesOnlyTheKeysItOwned()
    {
        var before = new ConsistentHashRing(Silos);
        var after = new ConsistentHashRing(Silos.Where(s => s != Silos[2]));

        foreach (var key in Keys)
        {
            if (before.Owner(key) == Silos[2]) after.Owner(key).Should().NotBe(Silos[2]);
            else after.Owner(key).Should().Be(before.Owner(key), key);
        }
    }

    [Fact]
    public void OwnershipIsTheSameWhateverOrderTheSilosAreListedIn()
    {
        var forward = new ConsistentHashRing(Silos);
        var backward = new ConsistentHashRing(Silos.Reverse());
        Keys.Select(forward.Owner).Should().Equal(Keys.Select(backward.Owner));
    }

    [Theory]
    [InlineData("", 17665956581633026203UL)]
    [InlineData("a", 198367012849983736UL)]
    [InlineData("worker/run-1/3", 5623494123842236587UL)]
    [InlineData("héllo", 1793390062926416830UL)]
    public void TheStableHashIsFnv1aThenSplitMix(string key, ulong expected)
    {
        // Expected values from a Python transcription of FNV-1a-64 over UTF-8 and SplitMix64's finalizer: the hash must
        // not depend on the process (a randomized one would split the directory across silos).
        StableHash.Of(key).Should().Be(expected);
    }

    [Fact]
    public void AnEmptyRingOwnsNothing() => new ConsistentHashRing([]).Owner("x").Should().BeNull();
}
