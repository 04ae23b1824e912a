namespace OrleansLm.Runtime.Cluster;

/// <summary>
/// A partition owner's answer to a directory request: the silo (registered winner or lookup result, null when none),
/// or <see cref="NotOwner"/> when the receiver does not own the grain's partition in its view.
/// </summary>
internal readonly record struct DirectoryReply(bool NotOwner, SiloAddress? Silo)
{
    public static DirectoryReply Refused => new(true, null);
}
