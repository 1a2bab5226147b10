namespace Portal.Testing;

/// <summary>The repository the tests run from.</summary>
public static class Repository
{
    /// <summary>The repository's root: the folder holding <c>Portal.sln</c>, above the test assembly.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "Portal.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException("The tests run from inside the repository (no Portal.sln above " + AppContext.BaseDirectory + ").");
    }
}
