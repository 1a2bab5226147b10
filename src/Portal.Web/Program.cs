using Microsoft.AspNetCore.DataProtection;
using Portal.Data.Embedded;
using Portal.Data.Migrations;
using Portal.Web;
using Portal.Web.Components;
using Portal.Web.Features.Accounts;
using Portal.Web.Features.Admin;
using Portal.Web.Features.Reports;
using Portal.Web.Features.OpenApi;
using Portal.Web.Features.CustomerLink;
using Portal.Web.Features.Database;
using Portal.Web.Features.Diagnostics;
using Portal.Web.Features.Ingest;
using Portal.Web.Features.Operations;
using Portal.Web.Features.Probes;
using Portal.Web.Features.Sessions;
using Portal.Web.Features.Turn;
using Radzen;

// `Portal.Web --health-check`: the container's own health probe (the runtime image has no curl).
if (args is ["--health-check", ..])
{
    return await Health.ProbeAsync(Environment.GetEnvironmentVariable("PORTAL_HEALTH_URL") ?? "http://127.0.0.1:8080/health/ready");
}

// Settings and static-asset manifests sit next to the assembly, wherever the portal is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

// Serve Radzen's and the framework's files straight from the build output too, not only from a publish folder.
builder.WebHost.UseStaticWebAssets();

// Where Kestrel terminates TLS, the ClientHello tells which TLS stack the customer's connection really came from.
builder.WebHost.ConfigureKestrel(ClientHelloCapture.Install);

// The hosting diagnostics log every request line, and customer-link tokens live in paths (/t/{token}) and in
// SignalR's access_token query: such lines must never reach a log.
builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);
builder.Logging.AddFilter("Microsoft.AspNetCore.Http.Connections", LogLevel.Warning);
// A refused hub call (a HubException) would log an error with a stack trace each time: thousands a second from one
// link. Refusals are logged by PortalRefusals (one line a minute per link), real faults by PerLinkHubFilter.
builder.Logging.AddFilter("Microsoft.AspNetCore.SignalR.Internal.DefaultHubDispatcher", LogLevel.None);

builder.Services.Configure<PortalOptions>(builder.Configuration.GetSection(PortalOptions.Section));
builder.Services.AddSingleton(TimeProvider.System);

using (var startupLogging = LoggerFactory.Create(b => b.AddConfiguration(builder.Configuration.GetSection("Logging")).AddSimpleConsole()))
{
    try
    {
        await builder.AddPortalDatabaseAsync(startupLogging.CreateLogger("Portal.Database"));
    }
    catch (EmbeddedPostgresException ex)
    {
        await Console.Error.WriteLineAsync(ex.Message);
        return 1;
    }
}

builder.Services.AddProblemDetails();
// Pages in Japanese, Arabic or Korean are written as their characters, not as a numeric entity each (markup characters
// are still encoded): readable, and a third of the weight.
builder.Services.Configure<Microsoft.Extensions.WebEncoders.WebEncoderOptions>(o =>
    o.TextEncoderSettings = new System.Text.Encodings.Web.TextEncoderSettings(System.Text.Unicode.UnicodeRanges.All));
builder.Services.AddRazorComponents().AddInteractiveServerComponents();
builder.Services.AddCascadingAuthenticationState();
builder.Services.AddRadzenComponents();
builder.Services.AddAccounts();
// One key ring for every instance, in PostgreSQL: a cookie or a form made by one instance is good on all of them.
builder.Services.AddDataProtection().SetApplicationName("Portal").PersistKeysToDbContext<Portal.Data.PortalDbContext>();
builder.Services.AddCustomerLink();
builder.Services.AddIngest();
builder.Services.AddSessions(builder.Configuration);
builder.Services.AddProbes(builder.Configuration);
builder.Services.AddAdmin(builder.Configuration);
builder.Services.AddReports();
builder.Services.AddPortalOpenApi();
builder.Services.AddSingleton<EchoRegistry>().AddSingleton<DiagKeys>().AddSingleton<DiagBudget>();
builder.Services.AddOperations();
builder.Services.AddTurn(builder.Configuration);

var app = builder.Build();

try
{
    await app.MigrateAsync();
    await using var scope = app.Services.CreateAsyncScope();
    await scope.ServiceProvider.GetRequiredService<Bootstrap>().RunAsync(Console.Out, app.Lifetime.ApplicationStopping);
}
catch (Exception ex) when (ex is MigrationChecksumException or InvalidOperationException)
{
    await Console.Error.WriteLineAsync(ex.Message);
    await StopEmbeddedAsync(app);
    return 2;
}

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler();
}

app.UseStatusCodePages();

// The echo endpoint is measured by idle-survival tests: no protocol pings of our own may keep a quiet socket alive.
app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.Zero });
// Behind the portal's own TLS-ending proxy the request is https: Secure cookies, HSTS, https links.
app.UseMiddleware<ForwardedScheme>();
app.UseMiddleware<OriginCheck>();
app.UseMiddleware<ResponseHeaders>();
app.UseMiddleware<LinkGuard>();
// The test endpoints serve holders of a live link's key, within the link's budget.
app.UseMiddleware<DiagGate>();
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();

app.MapStaticAssets();
// The console's whole Content-Security-Policy (framing by no one included) comes from ResponseHeaders, not Blazor's
// frame-ancestors-only header, which would stand in for it.
app.MapRazorComponents<App>().AddInteractiveServerRenderMode(o => o.ContentSecurityFrameAncestorsPolicy = null);
app.MapAccounts();
app.MapCustomerLink();
app.MapIngest();
app.MapEcho();
app.MapProbeEndpoints();
app.MapTurn();
app.MapSessionsApi();
app.MapProbesApi();
app.MapReports();
app.MapAdminApi();
app.MapOpenApi();
app.MapOperations();

try
{
    await app.StartAsync();
}
catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException || ex.InnerException is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.AddressAlreadyInUse })
{
    // Another program holds the address: say which, and leave nothing of ours running (the embedded PostgreSQL).
    await Console.Error.WriteLineAsync($"The portal cannot listen: {ex.Message} Stop what uses that address, or choose another with ASPNETCORE_URLS (e.g. http://127.0.0.1:5081).");
    await StopEmbeddedAsync(app);
    return 3;
}

await app.WaitForShutdownAsync();
return 0;

static async Task StopEmbeddedAsync(WebApplication app)
{
    if (app.Services.GetService<EmbeddedPostgres>() is { } embedded)
    {
        await embedded.StopAsync();
    }
}
