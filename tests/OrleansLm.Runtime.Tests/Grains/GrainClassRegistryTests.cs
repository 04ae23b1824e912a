using OrleansLm.Runtime.Activation;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Runtime.Tests.Grains;

public sealed class GrainClassRegistryTests
{
    [Fact]
    public void ScanningReadsAttributesIntoTheClassDescription()
    {
        var registry = new GrainClassRegistry().AddAssembly(typeof(TestSilo).Assembly);
        registry.Freeze();

        registry.Get(typeof(IWorkerGrain).FullName!).Placement.Should().Be(new StatelessWorkerPlacement(3));
        registry.Get(typeof(IDeviceGrain).FullName!).Placement.Should().Be(new SiloRolePlacement("worker", RequiresDevice: true));
        registry.Get(typeof(IPreferLocalGrain).FullName!).Placement.Should().Be(PreferLocalPlacement.Instance);
        registry.Get(typeof(ILifecycleGrain).FullName!).Placement.Should().Be(RandomPlacement.Instance);
        registry.Get(typeof(IReentrantTurnGrain).FullName!).IsReentrant.Should().BeTrue();
        registry.Get(typeof(ITurnGrain).FullName!).IsReentrant.Should().BeFalse();
        registry.Find(typeof(IUnimplementedGrain).FullName!).Should().BeNull();
    }

    [Fact]
    public void InterfaceWithTwoScannedClassesIsAmbiguousUntilOneIsRegistered()
    {
        var scanned = new GrainClassRegistry().AddAssembly(typeof(TestSilo).Assembly);
        scanned.Freeze();
        FluentActions.Invoking(() => scanned.Find(typeof(IAmbiguousGrain).FullName!)).Should().Throw<InvalidOperationException>()
            .WithMessage($"*{typeof(IAmbiguousGrain).FullName} is implemented by*AmbiguousA and*AmbiguousB; register one explicitly");

        var chosen = new GrainClassRegistry().AddAssembly(typeof(TestSilo).Assembly).Add<IAmbiguousGrain, AmbiguousB>();
        chosen.Freeze();
        chosen.Get(typeof(IAmbiguousGrain).FullName!).Type.Should().Be<AmbiguousB>();
    }

    [Fact]
    public void BadRegistrationsAreRefusedNamingTheClass()
    {
        FluentActions.Invoking(() => new GrainClassRegistry().Add(typeof(ICalculatorGrain), typeof(NotAGrain)))
            .Should().Throw<ArgumentException>().WithMessage($"{typeof(NotAGrain).FullName} cannot be a grain class*deriving from Grain");
        FluentActions.Invoking(() => new GrainClassRegistry().Add(typeof(ICalculatorGrain), typeof(LifecycleGrain)))
            .Should().Throw<ArgumentException>().WithMessage($"*LifecycleGrain does not implement {typeof(ICalculatorGrain).FullName}");
        FluentActions.Invoking(() => new GrainClassRegistry().Add(typeof(IAmbiguousGrain), typeof(TwoPlacements<int>)))
            .Should().Throw<ArgumentException>().WithMessage("*TwoPlacements`1[[System.Int32*has more than one placement attribute*");
        var frozen = new GrainClassRegistry();
        frozen.Freeze();
        FluentActions.Invoking(() => frozen.Add<ICalculatorGrain, CalculatorGrain>()).Should().Throw<InvalidOperationException>();
    }

    public interface IAmbiguousGrain : IGrainWithStringKey
    {
        Task Run();
    }

    public sealed class AmbiguousA : Grain, IAmbiguousGrain
    {
        public Task Run() => Task.CompletedTask;
    }

    public sealed class AmbiguousB : Grain, IAmbiguousGrain
    {
        public Task Run() => Task.CompletedTask;
    }

    [RandomPlacement]
    [HashBasedPlacement]
    public abstract class TwoPlacementsBase : Grain;

    /// <summary>Generic so that scanning this assembly (which skips open generics) leaves it out; the test registers a closed one.</summary>
    public sealed class TwoPlacements<T> : TwoPlacementsBase, IAmbiguousGrain
    {
        public Task Run() => Task.CompletedTask;
    }

    public sealed class NotAGrain : ICalculatorGrain
    {
        public Task<int> Add(int a, int b) => Task.FromResult(a + b);

        public Task<int> Fail(string message) => Task.FromResult(0);

        public Task<long> Key() => Task.FromResult(0L);
    }
}
