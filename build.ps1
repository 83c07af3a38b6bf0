# The same verbs as build.sh, for PowerShell (Windows or pwsh on Linux/macOS).
#   ./build.ps1            build everything (Release)
#   ./build.ps1 test       build, then run every test suite
#   ./build.ps1 run [ARGS] build, then run the CLI with ARGS (no ARGS: `fusedrnn demo`)
#   ./build.ps1 bindings   regenerate src/FusedRnn.Native/Interop/*.g.cs from native/include/fusedrnn.h
param([string]$Verb = "build", [Parameter(ValueFromRemainingArguments = $true)][string[]]$CliArgs)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
$Config = if ($env:CONFIG) { $env:CONFIG } else { "Release" }
$Artifacts = Join-Path $PSScriptRoot "artifacts"
$NativeBuild = Join-Path $Artifacts "native/$($Config.ToLower())"

function Invoke-Checked([string]$File, [string[]]$Arguments) {
    & $File @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$File $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

function Build-All {
    if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) { throw "the .NET 10 SDK is required; 'dotnet' is not on PATH" }
    if ((Test-Path native/CMakeLists.txt) -and (Get-Command cmake -ErrorAction SilentlyContinue)) {
        Invoke-Checked cmake @("-S", "native", "-B", $NativeBuild, "-DCMAKE_BUILD_TYPE=$Config")
        Invoke-Checked cmake @("--build", $NativeBuild, "--config", $Config)
    }
    Invoke-Checked dotnet @("build", "Interop.sln", "-c", $Config, "-nologo", "-v:q")
}

switch ($Verb) {
    "build" { Build-All }
    "test" {
        Build-All
        if (Test-Path native/CMakeLists.txt) { Invoke-Checked ctest @("--test-dir", $NativeBuild, "--output-on-failure", "-C", $Config) }
        Invoke-Checked dotnet @("test", "Interop.sln", "-c", $Config, "--no-build", "-nologo", "-v:q")
        # The native kernel set is chosen once per process: rerun the cross-backend suites with each lower one forced.
        foreach ($isa in @("avx2", "scalar")) {
            $env:FUSEDRNN_ISA = $isa
            try {
                Invoke-Checked dotnet @("test", "tests/FusedRnn.Tests", "-c", $Config, "--no-build", "-nologo", "-v:q",
                    "--filter", "FullyQualifiedName~ParityTests|FullyQualifiedName~ReferenceTests|FullyQualifiedName~ConcurrencyTests")
            } finally { Remove-Item Env:FUSEDRNN_ISA }
        }
    }
    "run" {
        Build-All
        if (-not $CliArgs) { $CliArgs = @("demo") }
        Invoke-Checked dotnet (@((Join-Path $Artifacts "bin/FusedRnn.Cli/$($Config.ToLower())/fusedrnn.dll")) + $CliArgs)
    }
    "bindings" { Invoke-Checked dotnet @("run", "--project", "src/FusedRnn.BindGen", "-c", $Config, "--", "--repo", $PSScriptRoot) }
    default { throw "unknown verb '$Verb'; try: build, test, run [ARGS], bindings" }
}
