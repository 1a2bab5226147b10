namespace Portal.Web.Features.Sessions;

/// <summary>Registers sessions.</summary>
public static class SessionsServiceCollectionExtensions
{
    /// <summary>Adds the session service and the collaboration (notes, presence) on sessions.</summary>
    public static IServiceCollection AddSessions(this IServiceCollection services) =>
        services.AddSingleton<SessionService>().AddSingleton<Collaboration>();
}
