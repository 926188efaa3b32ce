-- Runs daw/reaper/diffhost_render.lua outside REAPER: the ReaScript calls it makes are
-- recorded to stdout, ExecProcess really runs the command (through /bin/sh, in the
-- background, as REAPER's "no wait" mode does) and defer() is a loop.
-- Usage: lua5.4 reaper_harness.lua SCRIPT TRACK_NAME CURSOR_SECONDS   (env HARNESS_RESOURCE)
local script, track_name, cursor = arg[1], arg[2], tonumber(arg[3])
local deferred = {}
local ext = {}
local t0 = os.time()
local ticks = 0

local function log(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[#parts + 1] = tostring(select(i, ...)) end
  io.write(table.concat(parts, "\t"), "\n")
  io.flush()
end

reaper = {
  GetSelectedTrack = function(_, i) if track_name ~= "" and i == 0 then return "TRACK" end end,
  GetTrackName = function(_) return true, track_name end,
  GetUserInputs = function(_, _, captions, defaults)
    log("DIALOG", captions, defaults)
    return true, "closed hihat|0.25"
  end,
  GetCursorPosition = function() return cursor end,
  GetResourcePath = function() return os.getenv("HARNESS_RESOURCE") end,
  RecursiveCreateDirectory = function(d) os.execute('mkdir -p "' .. d .. '"') return 1 end,
  time_precise = function() return os.time() - t0 + ticks * 0.05 end,
  ExecProcess = function(cmd, timeout)
    if timeout >= 0 then  -- REAPER waits: "exit code\noutput"
      log("CHECK", cmd)
      local pipe = io.popen(cmd .. " 2>&1")
      local text = pipe:read("a")
      local _, _, code = pipe:close()
      return tostring(code) .. "\n" .. text
    end
    log("EXEC", timeout)
    os.execute(cmd .. " &")
    return "0\n"
  end,
  GetExtState = function(section, key) return ext[section .. "/" .. key] or "" end,
  SetExtState = function(section, key, value) ext[section .. "/" .. key] = value end,
  defer = function(fn) deferred[#deferred + 1] = fn end,
  ShowMessageBox = function(msg) log("MESSAGE", (msg:gsub("\n", " "))) return 1 end,
  ValidatePtr = function(p) return p == "TRACK" end,
  Undo_BeginBlock = function() end,
  Undo_EndBlock = function(desc) log("UNDO", desc) end,
  PreventUIRefresh = function() end,
  SetOnlyTrackSelected = function(t) log("SELECT", t) end,
  Main_OnCommand = function(id) log("COMMAND", id) end,
  SetEditCurPos = function(pos) log("CURSOR", pos) end,
  InsertMedia = function(path, mode) log("INSERT", path, mode) return 1 end,
  UpdateArrange = function() end,
}

dofile(script)
while #deferred > 0 do
  local fn = table.remove(deferred, 1)
  os.execute("sleep 0.05")
  ticks = ticks + 1
  fn()
end
log("END")
